import type { FastifyInstance } from 'fastify';
import { html } from '../http/pages/html.ts';
import { formatTransDate } from '../domain/dates.ts';
import {
  explainRefusedRequest,
  explainSignature,
  maskedRequestText,
  parsePastedRequest,
  recentRefusedRequests,
  type ExplainProblem,
  type Explanation,
  type RefusedRequest,
} from '../operations/signature-explainer.ts';
import { csrfInput, field, notice } from './layout.ts';
import { formField, guarded, messagePage, page, type ConsoleRequest, type ConsoleSettings } from './session.ts';

const problemTexts: Record<ExplainProblem, string> = {
  empty: 'Paste the request first.',
  noClientKey: 'The request has no client_key: the merchant (and its PASSWORD) cannot be known.',
  unknownMerchant: 'No merchant has this client_key (the API answers 900003 too).',
  otherMerchant: "This client_key is not your merchant's.",
  unknownAction: 'The action is not one the explainer knows; give action= and its fields.',
  paymentNotFound:
    'No payment of this merchant has that trans_id / order_id: the API answers 208001 before checking the hash.',
};

function form(consoleRequest: ConsoleRequest & { session: { csrfToken: string } }, text: string, error?: string) {
  const { t, session } = consoleRequest;
  return html`<h2>${t('pasteRequest')}</h2>
<form method="post" action="/console/signature">${csrfInput(session.csrfToken)}
${field({ name: 'request', label: t('request'), value: text, multiline: true, error })}
<p><button type="submit">${t('explain')}</button></p></form>`;
}

function explanationOf(consoleRequest: ConsoleRequest, explanation: Explanation) {
  const { t } = consoleRequest;
  return html`<h2>${t('formula')}</h2><p class="mono">${explanation.formula}</p>
<dl class="facts"><dt>${t('hashedString')}</dt><dd class="mono">${explanation.hashedString}</dd>
<dt>${t('expectedHash')}</dt><dd class="mono">${explanation.expected}</dd>
<dt>${t('givenHash')}</dt><dd class="mono">${explanation.given || '—'}</dd></dl>
${notice(explanation.matches ? 'ok' : 'bad', explanation.matches ? t('hashMatches') : t('hashDiffers'))}`;
}

/** The sandbox's recent 900003 answers (docs/adr/0085), each a link to its explanation. */
function refusedList(settings: ConsoleSettings, consoleRequest: ConsoleRequest, rows: RefusedRequest[]) {
  const { t } = consoleRequest;
  const heading = html`<h2>${t('refusedRequests')}</h2>`;
  if (!settings.sandbox) return html`${heading}<p>${t('refusedLogSandboxOnly')}</p>`;
  if (rows.length === 0) return html`${heading}<p>${t('noRefusedRequests')}</p>`;
  const operator = consoleRequest.session?.user.merchantId === null;
  return html`${heading}<div class="scroll"><table class="wide"><thead><tr><th scope="col">${t('time')}</th>
<th scope="col">${t('action')}</th>${operator ? html`<th scope="col">${t('clientKey')}</th>` : ''}
<th scope="col">order_id / trans_id</th><th scope="col">${t('cardShort')}</th><th scope="col">${t('explain')}</th></tr>
</thead><tbody>${rows.map(
    (row) => html`<tr><td>${formatTransDate(row.atMs, settings.context.timeZone)}</td><td>${row.action}</td>
${operator ? html`<td class="mono">${row.clientKey}</td>` : ''}<td class="mono">${row.orderId ?? row.transId ?? ''}</td>
<td class="mono">${row.cardMask ?? ''}</td><td><a href="/console/signature/refused/${row.entryId}"
aria-label="${t('explain')} ${row.action} ${formatTransDate(row.atMs, settings.context.timeZone)}">${t('explain')}</a>
</td></tr>`,
  )}</tbody></table></div>`;
}

export function registerSignaturePage(scope: FastifyInstance, settings: ConsoleSettings): void {
  scope.get('/console/signature', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply, 'explainSignature');
    if (!consoleRequest) return reply;
    const rows = settings.sandbox ? await recentRefusedRequests(settings.context, consoleRequest.session.user) : [];
    return page(
      reply,
      consoleRequest,
      consoleRequest.t('signature'),
      html`${refusedList(settings, consoleRequest, rows)}${form(consoleRequest, '')}`,
    );
  });
  scope.get('/console/signature/refused/:entryId', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply, 'explainSignature');
    if (!consoleRequest) return reply;
    const { t } = consoleRequest;
    const entryId = String((request.params as { entryId: string }).entryId).slice(0, 100);
    const result = await explainRefusedRequest(settings.context, consoleRequest.session.user, entryId);
    if (!result.ok && result.problem === 'notFound') return messagePage(reply, consoleRequest, 404, t('notFound'));
    const shown = result.request;
    const facts = shown
      ? html`<dl class="facts"><dt>${t('time')}</dt><dd>${formatTransDate(shown.atMs, settings.context.timeZone)}</dd>
<dt>${t('action')}</dt><dd>${shown.action}</dd><dt>${t('clientKey')}</dt><dd class="mono">${shown.clientKey}</dd>
${shown.orderId ? html`<dt>order_id</dt><dd class="mono">${shown.orderId}</dd>` : ''}
${shown.transId ? html`<dt>trans_id</dt><dd class="mono">${shown.transId}</dd>` : ''}
${shown.cardMask ? html`<dt>${t('cardShort')}</dt><dd class="mono">${shown.cardMask}</dd>` : ''}</dl>`
      : '';
    const body = result.ok
      ? explanationOf(consoleRequest, result.explanation)
      : notice('bad', problemTexts[result.problem as ExplainProblem]);
    return page(
      reply,
      consoleRequest,
      t('refusedRequest'),
      html`${facts}${body}<p><a href="/console/signature">${t('signature')}</a></p>`,
    );
  });
  scope.post('/console/signature', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply, 'explainSignature');
    if (!consoleRequest) return reply;
    const fields = parsePastedRequest(formField(request.body, 'request'));
    const result = await explainSignature(settings.context, consoleRequest.session.user, fields);
    const shownText = maskedRequestText(fields);
    if (!result.ok) {
      return page(
        reply,
        consoleRequest,
        consoleRequest.t('signature'),
        form(consoleRequest, shownText, problemTexts[result.problem]),
        { statusCode: 400 },
      );
    }
    return page(
      reply,
      consoleRequest,
      consoleRequest.t('signature'),
      html`${form(consoleRequest, shownText)}${explanationOf(consoleRequest, result.explanation)}`,
    );
  });
}
