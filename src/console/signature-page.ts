import type { FastifyInstance } from 'fastify';
import { html } from '../http/pages/html.ts';
import {
  explainSignature,
  maskedRequestText,
  parsePastedRequest,
  type ExplainProblem,
  type Explanation,
} from '../operations/signature-explainer.ts';
import { csrfInput, field, notice } from './layout.ts';
import { formField, guarded, page, type ConsoleRequest, type ConsoleSettings } from './session.ts';

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
  return html`<form method="post" action="/console/signature">${csrfInput(session.csrfToken)}
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

export function registerSignaturePage(scope: FastifyInstance, settings: ConsoleSettings): void {
  scope.get('/console/signature', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply, 'explainSignature');
    if (!consoleRequest) return reply;
    return page(reply, consoleRequest, consoleRequest.t('signature'), form(consoleRequest, ''));
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
