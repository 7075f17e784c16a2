import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { html, SafeHtml } from '../http/pages/html.ts';
import { actorOf, may, recordAudit, type ConsoleSession } from '../operations/console-accounts.ts';
import {
  consoleMappings,
  consoleMid,
  consoleMids,
  consoleRates,
  setMidEnabled,
  type LimitNow,
  type MidSummary,
} from '../operations/console-routing.ts';
import {
  askRoute,
  type RouteQuestion,
  type RouteQuestionField,
  type RouteQuestionProblem,
} from '../operations/explain-route.ts';
import type { CircuitState, RouteExplanation } from '../operations/routing.ts';
import { knownBrands, routedActions } from '../domain/routing.ts';
import type { ConsoleKey, Translate } from './i18n.ts';
import { csrfInput, field, notice } from './layout.ts';
import {
  formField,
  guarded,
  messagePage,
  operatorsOnly,
  page,
  queryField,
  type ConsoleRequest,
  type ConsoleSettings,
} from './session.ts';

/**
 * Routing in the console (issue #12, docs/adr/0086): MIDs, merchant mappings, limits with their
 * headroom, rates and the routing explanation, for operators only (a merchant user gets 404).
 * Read-only but for one administrator action, a MID switched on or off.
 */

type Guarded = ConsoleRequest & { session: ConsoleSession };

const sections: { key: ConsoleKey; path: string }[] = [
  { key: 'mids', path: '/console/routing' },
  { key: 'mappings', path: '/console/routing/mappings' },
  { key: 'limits', path: '/console/routing/limits' },
  { key: 'rates', path: '/console/routing/rates' },
  { key: 'routeExplain', path: '/console/routing/explain' },
];

function sectionLinks(t: Translate, current: string): SafeHtml {
  return html`<nav aria-label="${t('routingSections')}"><ul>${sections.map(
    (section) =>
      html`<li><a href="${section.path}"${
        section.path === current ? new SafeHtml(' aria-current="page"') : ''
      }>${t(section.key)}</a></li>`,
  )}</ul></nav>`;
}

const midNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const listed = (values: readonly string[], t: Translate) => (values.length === 0 ? t('none') : values.join(', '));
const midLink = (name: string) =>
  html`<a class="mono" href="/console/routing/mids/${encodeURIComponent(name)}">${name}</a>`;

const circuitKeys: Record<CircuitState, ConsoleKey> = {
  open: 'circuitOpen',
  closed: 'circuitClosed',
  none: 'circuitNone',
  unknown: 'circuitUnknown',
};

const windowKeys: Record<LimitNow['window'], ConsoleKey> = {
  day: 'windowDay',
  week: 'windowWeek',
  month: 'windowMonth',
};

function limitRows(t: Translate, limits: LimitNow[], owner?: SafeHtml): SafeHtml {
  return html`${limits.map(
    (limit) => html`<tr>${owner ? html`<td>${owner}</td>` : ''}<td>${t(windowKeys[limit.window])}</td>
<td>${limit.limit} ${limit.currency}</td><td>${limit.used} ${limit.currency} (${limit.usedPercent} %)</td>
<td>${limit.headroom} ${limit.currency}</td><td class="mono">${limit.windowKey}</td></tr>`,
  )}`;
}

function limitTable(
  t: Translate,
  limits: LimitNow[],
  withOwner: boolean,
  body: SafeHtml,
  label = t('limits'),
): SafeHtml {
  if (limits.length === 0 && !withOwner) return html`<p>${t('noLimits')}</p>`;
  // Scrolls sideways on a phone rather than break words; focusable so a keyboard can scroll it.
  return html`<div class="scroll" tabindex="0" role="region" aria-label="${label}"><table class="wide"><thead><tr>${
    withOwner ? html`<th scope="col">${t('owner')}</th>` : ''
  }
<th scope="col">${t('window')}</th><th scope="col">${t('limit')}</th><th scope="col">${t('used')}</th>
<th scope="col">${t('headroom')}</th><th scope="col">${t('currentWindow')}</th></tr></thead>
<tbody>${body}</tbody></table></div>`;
}

function midRow(t: Translate, mid: MidSummary): SafeHtml {
  const exchange = mid.exchangeCurrencies.length > 0 ? ` (+ ${mid.exchangeCurrencies.join(', ')})` : '';
  return html`<tr><td>${midLink(mid.name)}</td><td>${mid.connector}</td><td>${mid.enabled ? t('yes') : t('no')}</td>
<td>${t(circuitKeys[mid.circuit])}</td><td>${listed(mid.currencies, t)}${exchange} → ${mid.settlementCurrency}</td>
<td>${listed(mid.brands, t)}</td><td>${
    mid.limits.length === 0
      ? t('none')
      : mid.limits.map(
          (limit) =>
            html`<span class="nowrap">${t(windowKeys[limit.window])}: ${limit.headroom} / ${limit.limit}
${limit.currency}</span> `,
        )
  }</td></tr>`;
}

async function midsPage(settings: ConsoleSettings, consoleRequest: Guarded, reply: FastifyReply) {
  const { t } = consoleRequest;
  const mids = await consoleMids(settings.context);
  return page(
    reply,
    consoleRequest,
    t('routing'),
    html`${sectionLinks(t, '/console/routing')}<h2>${t('mids')}</h2>${
      mids.length === 0
        ? html`<p>${t('noMids')}</p>`
        : html`<div class="scroll"><table class="wide"><thead><tr><th scope="col">${t('name')}</th>
<th scope="col">${t('connector')}</th><th scope="col">${t('state')}</th><th scope="col">${t('circuit')}</th>
<th scope="col">${t('currencies')}</th><th scope="col">${t('brands')}</th><th scope="col">${t('headroom')}</th></tr>
</thead><tbody>${mids.map((mid) => midRow(t, mid))}</tbody></table></div>`
    }`,
  );
}

function switchForm(consoleRequest: Guarded, name: string, enabled: boolean): SafeHtml {
  const { t, session } = consoleRequest;
  if (!may(session.user.role, 'manageRouting')) return html``;
  return html`<form class="inline" method="post" action="/console/routing/mids/${encodeURIComponent(name)}/enabled">
${csrfInput(session.csrfToken)}<input type="hidden" name="enabled" value="${enabled ? 'off' : 'on'}">
<button type="submit"${enabled ? new SafeHtml(' class="danger"') : ''}>${enabled ? t('disable') : t('enable')}
${name}</button>
</form>`;
}

async function midPage(
  settings: ConsoleSettings,
  consoleRequest: Guarded,
  reply: FastifyReply,
  request: FastifyRequest,
) {
  const { t } = consoleRequest;
  const name = (request.params as { name: string }).name;
  const mid = midNamePattern.test(name) ? await consoleMid(settings.context, name) : undefined;
  if (!mid) return messagePage(reply, consoleRequest, 404, t('notFound'));
  const doneText = queryField(request, 'done');
  const done = doneText === 'on' ? t('midSwitchedOn') : doneText === 'off' ? t('midSwitchedOff') : undefined;
  const fact = (key: ConsoleKey, value: unknown) => html`<dt>${t(key)}</dt><dd>${value}</dd>`;
  return page(
    reply,
    consoleRequest,
    `${t('mid')} ${mid.name}`,
    html`${sectionLinks(t, '')}${notice('ok', done)}<dl class="facts">
${fact('connector', mid.connector)}${fact('state', mid.enabled ? t('yes') : t('no'))}
${fact('circuit', t(circuitKeys[mid.circuit]))}${fact('paymentTypes', listed(mid.paymentTypes, t))}
${fact('routedActions', listed(mid.actions, t))}${fact('brands', listed(mid.brands, t))}
${fact('currencies', listed(mid.currencies, t))}${fact('exchangeCurrencies', listed(mid.exchangeCurrencies, t))}
${fact('settlementCurrency', mid.settlementCurrency)}${fact('threeDs', mid.threeDsMode)}
${fact('requireDayLimit', mid.requireDayLimit ? t('yes') : t('no'))}
${fact('secretSettings', mid.hasSecretSettings ? t('secretsStored') : t('none'))}
${fact(
  'usedBy',
  mid.usedBy.length === 0
    ? t('none')
    : mid.usedBy.map(
        (use) =>
          html`<a class="mono" href="/console/merchants/${use.clientKey}">${use.clientKey}</a> (${use.position}) `,
      ),
)}</dl>
${switchForm(consoleRequest, mid.name, mid.enabled)}
<h2>${t('settings')}</h2>${
      mid.settings.length === 0
        ? html`<p>${t('none')}</p>`
        : html`<dl class="facts">${mid.settings.map(
            (setting) => html`<dt class="mono">${setting.name}</dt><dd class="mono">${setting.value}</dd>`,
          )}</dl>`
    }
<h2>${t('limits')}</h2>${limitTable(t, mid.limits, false, limitRows(t, mid.limits))}`,
  );
}

async function mappingsPage(settings: ConsoleSettings, consoleRequest: Guarded, reply: FastifyReply) {
  const { t } = consoleRequest;
  const mappings = await consoleMappings(settings.context);
  const body = mappings.map(
    (mapping) => html`<section aria-label="${mapping.clientKey}">
<h2><a class="mono" href="/console/merchants/${mapping.clientKey}">${mapping.clientKey}</a> ${mapping.descriptor}</h2>
<dl class="facts"><dt>${t('state')}</dt><dd>${mapping.enabled ? t('yes') : t('no')}</dd>
<dt>${t('cascadeOrder')}</dt><dd>${
      mapping.mids.length === 0
        ? t('none')
        : mapping.mids.map(
            (mid, index) =>
              html`${index > 0 ? ' → ' : ''}${midLink(mid.name)}${mid.enabled ? '' : html` (${t('no')})`}`,
          )
    }</dd>
<dt>${t('cascade')}</dt><dd>${mapping.cascade}</dd>
<dt>${t('paymentMethods')}</dt><dd>${listed(mapping.paymentMethods, t)}</dd>
<dt>${t('requireDayLimit')}</dt><dd>${mapping.requireDayLimit ? t('yes') : t('no')}</dd></dl>
${limitTable(t, mapping.limits, false, limitRows(t, mapping.limits), `${t('limits')} ${mapping.clientKey}`)}
<p><a href="/console/routing/explain?client_key=${mapping.clientKey}">${t('explainForMerchant')}</a></p></section>`,
  );
  return page(
    reply,
    consoleRequest,
    t('mappings'),
    html`${sectionLinks(t, '/console/routing/mappings')}${
      mappings.length === 0 ? html`<p>${t('noMappings')}</p>` : body
    }`,
  );
}

async function limitsPage(settings: ConsoleSettings, consoleRequest: Guarded, reply: FastifyReply) {
  const { t } = consoleRequest;
  const [mids, mappings] = await Promise.all([consoleMids(settings.context), consoleMappings(settings.context)]);
  const midLimits = mids.flatMap((mid) => mid.limits);
  const mappingLimits = mappings.flatMap((mapping) => mapping.limits);
  const midBody = html`${mids.map((mid) => limitRows(t, mid.limits, midLink(mid.name)))}`;
  const mappingBody = html`${mappings.map((mapping) =>
    limitRows(
      t,
      mapping.limits,
      html`<a class="mono" href="/console/merchants/${mapping.clientKey}">${mapping.clientKey}</a>`,
    ),
  )}`;
  return page(
    reply,
    consoleRequest,
    t('limits'),
    html`${sectionLinks(t, '/console/routing/limits')}
<h2>${t('midLimits')}</h2>${
      midLimits.length === 0 ? html`<p>${t('noLimits')}</p>` : limitTable(t, midLimits, true, midBody, t('midLimits'))
    }
<h2>${t('mappingLimits')}</h2>${
      mappingLimits.length === 0
        ? html`<p>${t('noLimits')}</p>`
        : limitTable(t, mappingLimits, true, mappingBody, t('mappingLimits'))
    }`,
  );
}

async function ratesPage(settings: ConsoleSettings, consoleRequest: Guarded, reply: FastifyReply) {
  const { t } = consoleRequest;
  const rates = await consoleRates(settings.context);
  return page(
    reply,
    consoleRequest,
    t('rates'),
    html`${sectionLinks(t, '/console/routing/rates')}<dl class="facts"><dt>${t('baseCurrency')}</dt>
<dd>${rates.baseCurrency ?? t('none')}</dd></dl>${
      rates.rates.length === 0
        ? html`<p>${t('noRates')}</p>`
        : html`<div class="scroll"><table><thead><tr><th scope="col">${t('fromCurrency')}</th>
<th scope="col">${t('toCurrency')}</th><th scope="col">${t('rate')}</th></tr></thead><tbody>${rates.rates.map(
            (rate) => html`<tr><td>${rate.from}</td><td>${rate.to}</td><td class="mono">${rate.rate}</td></tr>`,
          )}</tbody></table></div>`
    }`,
  );
}

/** The form as typed; the BIN field is shown back as at most 8 digits, so a card number typed
 * there by mistake never reaches the page. */
function questionOf(body: unknown): RouteQuestion {
  const text = (name: string, max = 100) => formField(body, name).trim().slice(0, max);
  return {
    clientKey: text('client_key'),
    cardBin: text('card_bin', 19),
    brand: text('brand', 20),
    currency: text('currency', 3),
    amount: text('amount', 30),
    action: text('action', 20),
    auth: formField(body, 'auth') === 'on',
    at: text('at', 40),
  };
}

function choice(name: string, label: string, options: readonly string[], chosen: string, error?: string): SafeHtml {
  const id = `field-${name}`;
  const invalid = error ? new SafeHtml(` aria-invalid="true" aria-describedby="${id}-error"`) : '';
  return html`<div><label for="${id}">${label}</label><select id="${id}" name="${name}"${invalid}>${options.map(
    (option) =>
      html`<option value="${option}"${option === chosen ? new SafeHtml(' selected') : ''}>${option || '—'}</option>`,
  )}</select>${error ? html`<p class="field-error" id="${id}-error">${error}</p>` : ''}</div>`;
}

function explainForm(consoleRequest: Guarded, question: RouteQuestion, problems: RouteQuestionProblem[]): SafeHtml {
  const { t, session } = consoleRequest;
  const error = (name: RouteQuestionField) =>
    problems
      .filter((problem) => problem.field === name)
      .map((problem) => problem.message)
      .join('; ') || undefined;
  const bin = (question.cardBin ?? '').slice(0, 8);
  return html`<p>${t('explainRouteHint')}</p>
<form class="grid" method="post" action="/console/routing/explain">${csrfInput(session.csrfToken)}
${field({
  name: 'client_key',
  label: t('merchantClientKey'),
  value: question.clientKey,
  error: error('clientKey'),
  required: true,
})}
${field({ name: 'card_bin', label: t('cardBin'), value: bin, error: error('cardBin') })}
${choice('brand', t('brand'), ['', ...knownBrands], (question.brand ?? '').toUpperCase(), error('brand'))}
${field({ name: 'currency', label: t('currency'), value: question.currency, error: error('currency'), required: true })}
${field({ name: 'amount', label: t('amount'), value: question.amount, error: error('amount'), required: true })}
${choice('action', t('routedAction'), routedActions, (question.action || 'SALE').toUpperCase(), error('action'))}
${field({ name: 'at', label: t('atTime'), value: question.at, error: error('at') })}
<div><label><input type="checkbox" name="auth"${question.auth ? new SafeHtml(' checked') : ''}>
${t('authorizationOnly')}</label></div>
<p><button type="submit">${t('explain')}</button></p></form>`;
}

function explanationOf(t: Translate, explanation: RouteExplanation): SafeHtml {
  const verdict = explanation.chosen
    ? notice('ok', t('chosenMid', { name: explanation.chosen }))
    : notice('bad', t('noMidTakesIt', { reason: explanation.refusal ?? '' }));
  return html`<h2>${t('routeExplain')}</h2>${verdict}<dl class="facts">
${explanation.exchange ? html`<dt>${t('byExchange')}</dt><dd>${explanation.exchange}</dd>` : ''}
<dt>${t('cascadeOrder')}</dt><dd>${explanation.cascadeOrder.join(' → ') || t('none')}</dd>
<dt>${t('cascade')}</dt><dd>${explanation.cascadeRule}</dd>
<dt>${t('mappingLimits')}</dt><dd>${
    explanation.mappingLimits.length === 0
      ? t('none')
      : explanation.mappingLimits.map((limit) => html`<span class="nowrap">${limit}</span><br>`)
  }</dd></dl>
<h3>${t('midsConsidered')}</h3><div class="scroll"><table class="wide"><thead><tr><th scope="col">${t('mid')}</th>
<th scope="col">${t('verdict')}</th><th scope="col">${t('limits')}</th></tr></thead><tbody>${explanation.mids.map(
    (mid) =>
      html`<tr><td>${midLink(mid.name)}</td><td>${mid.verdict}</td><td>${mid.limits.map(
        (limit) => html`${limit}<br>`,
      )}</td></tr>`,
  )}</tbody></table></div>`;
}

async function explainPage(
  settings: ConsoleSettings,
  request: FastifyRequest,
  reply: FastifyReply,
  consoleRequest: Guarded,
) {
  const { t } = consoleRequest;
  const asking = request.method === 'POST';
  const question = asking
    ? questionOf(request.body)
    : { clientKey: queryField(request, 'client_key').trim().slice(0, 100) };
  const answer = asking ? await askRoute(settings.context, question) : undefined;
  const problems = answer && !answer.ok ? answer.problems : [];
  return page(
    reply,
    consoleRequest,
    t('routeExplain'),
    html`${sectionLinks(t, '/console/routing/explain')}${problems.length > 0 ? notice('bad', t('badInput')) : ''}
${explainForm(consoleRequest, question, problems)}${answer?.ok ? explanationOf(t, answer.explanation) : ''}`,
    { statusCode: problems.length > 0 ? 400 : 200 },
  );
}

export function registerRoutingPages(scope: FastifyInstance, settings: ConsoleSettings): void {
  const readOnly = (
    path: string,
    show: (consoleRequest: Guarded, reply: FastifyReply, request: FastifyRequest) => Promise<FastifyReply>,
  ) =>
    scope.get(path, async (request, reply) => {
      const consoleRequest = await guarded(settings, request, reply);
      if (!consoleRequest || !operatorsOnly(reply, consoleRequest)) return reply;
      return show(consoleRequest, reply, request);
    });
  readOnly('/console/routing', (consoleRequest, reply) => midsPage(settings, consoleRequest, reply));
  readOnly('/console/routing/mids/:name', (consoleRequest, reply, request) =>
    midPage(settings, consoleRequest, reply, request),
  );
  readOnly('/console/routing/mappings', (consoleRequest, reply) => mappingsPage(settings, consoleRequest, reply));
  readOnly('/console/routing/limits', (consoleRequest, reply) => limitsPage(settings, consoleRequest, reply));
  readOnly('/console/routing/rates', (consoleRequest, reply) => ratesPage(settings, consoleRequest, reply));
  readOnly('/console/routing/explain', (consoleRequest, reply, request) =>
    explainPage(settings, request, reply, consoleRequest),
  );
  // Explaining changes nothing; it is a POST so a card number typed into the BIN field by
  // mistake never lands in a URL (history, proxies, access logs).
  scope.post('/console/routing/explain', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply);
    if (!consoleRequest || !operatorsOnly(reply, consoleRequest)) return reply;
    return explainPage(settings, request, reply, consoleRequest);
  });
  scope.post('/console/routing/mids/:name/enabled', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply, 'manageRouting');
    if (!consoleRequest) return reply;
    const name = (request.params as { name: string }).name;
    const enabled = formField(request.body, 'enabled') === 'on';
    const changed = midNamePattern.test(name)
      ? await setMidEnabled(settings.context, actorOf(consoleRequest.session.user), name, enabled)
      : undefined;
    if (!changed) return messagePage(reply, consoleRequest, 404, consoleRequest.t('notFound'));
    await recordAudit(settings.context.storage, settings.context.clock, actorOf(consoleRequest.session.user), {
      action: enabled ? 'MID enabled' : 'MID disabled',
      target: name,
      before: { enabled: changed.before },
      after: { enabled: changed.after },
    });
    const location = `/console/routing/mids/${encodeURIComponent(name)}?done=${enabled ? 'on' : 'off'}`;
    return reply.code(303).header('location', location).send();
  });
}
