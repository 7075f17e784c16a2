import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatTransDate } from '../domain/dates.ts';
import { formatAmount } from '../domain/money.ts';
import { paymentStatuses, type Payment } from '../domain/payment.ts';
import { html, SafeHtml } from '../http/pages/html.ts';
import { may, type ConsoleUser } from '../operations/console-accounts.ts';
import {
  findPaymentsPage,
  moveMoney,
  paymentPageOf,
  paymentSearchOf,
  resendConsoleCallback,
  sandboxChargeback,
  sandboxExpireChallenge,
  visiblePayment,
  type MoneyAction,
  type PaymentPage,
  type SearchForm,
  type SearchProblems,
} from '../operations/console-pages.ts';
import { allMerchants } from '../operations/manage-merchants.ts';
import type { PaymentListRow } from '../operations/console-pages.ts';
import type { ConsoleKey, Translate } from './i18n.ts';
import { csrfInput, field, notice } from './layout.ts';
import {
  formField,
  guarded,
  messagePage,
  page,
  queryField,
  type ConsoleRequest,
  type ConsoleSettings,
} from './session.ts';

/** Payments: search, a payment's page, its money actions and callback resends. */

const flashes: Record<string, ConsoleKey> = {
  chargedBack: 'chargedBack',
  challengeExpired: 'challengeExpired',
  refunded: 'refunded',
  captured: 'captured',
  voided: 'voided',
  resent: 'resent',
};

export function registerPaymentPages(scope: FastifyInstance, settings: ConsoleSettings): void {
  scope.get('/console/payments', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply);
    if (!consoleRequest) return reply;
    return searchPage(settings, consoleRequest, request, reply);
  });
  scope.get('/console/payments/:transId', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply);
    if (!consoleRequest) return reply;
    const payment = await visiblePayment(
      settings.context,
      consoleRequest.session.user,
      (request.params as { transId: string }).transId,
    );
    if (!payment) return messagePage(reply, consoleRequest, 404, consoleRequest.t('notFound'));
    const flash = flashes[queryField(request, 'done')];
    return paymentPage(settings, consoleRequest, reply, payment, { ok: flash ? consoleRequest.t(flash) : undefined });
  });
  for (const action of ['capture', 'refund', 'void'] as const) {
    scope.post(`/console/payments/:transId/${action}`, (request, reply) =>
      moneyAction(settings, request, reply, action),
    );
  }
  if (settings.sandbox) {
    scope.post('/console/payments/:transId/chargeback', (request, reply) => chargebackAction(settings, request, reply));
    scope.post('/console/payments/:transId/expire-challenge', async (request, reply) => {
      const consoleRequest = await guarded(settings, request, reply, 'moveClock');
      if (!consoleRequest) return reply;
      const { t, session } = consoleRequest;
      const payment = await visiblePayment(
        settings.context,
        session.user,
        (request.params as { transId: string }).transId,
      );
      if (!payment) return messagePage(reply, consoleRequest, 404, t('notFound'));
      const expired = await sandboxExpireChallenge(settings.context, session.user, payment);
      return reply
        .code(303)
        .header('location', `/console/payments/${payment.transId}${expired ? '?done=challengeExpired' : ''}`)
        .send();
    });
  }
  scope.post('/console/callbacks/:outboxId/resend', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply, 'resendCallback');
    if (!consoleRequest) return reply;
    const resent = await resendConsoleCallback(
      settings.context,
      consoleRequest.session.user,
      (request.params as { outboxId: string }).outboxId,
    );
    if (!resent) return messagePage(reply, consoleRequest, 404, consoleRequest.t('notFound'));
    return reply.code(303).header('location', `/console/payments/${resent.transId}?done=resent#callbacks`).send();
  });
}

const moneyPermission = { capture: 'moveMoney', void: 'moveMoney', refund: 'refund' } as const;
const doneKey = { capture: 'captured', void: 'voided', refund: 'refunded' } as const;

async function moneyAction(
  settings: ConsoleSettings,
  request: FastifyRequest,
  reply: FastifyReply,
  action: MoneyAction,
) {
  const consoleRequest = await guarded(settings, request, reply, moneyPermission[action]);
  if (!consoleRequest) return reply;
  const { t, session } = consoleRequest;
  const payment = await visiblePayment(settings.context, session.user, (request.params as { transId: string }).transId);
  if (!payment) return messagePage(reply, consoleRequest, 404, t('notFound'));
  // Refunds by support are bounded by the rules themselves: refunded ≤ captured, in the database write.
  if (action === 'refund' && payment.status === 'PENDING' && !may(session.user.role, 'moveMoney')) {
    return messagePage(reply, consoleRequest, 403, t('forbidden'));
  }
  const amountText = formField(request.body, 'amount').trim();
  const outcome = await moveMoney(
    settings.context,
    session.user,
    payment,
    action,
    amountText === '' ? undefined : amountText,
  );
  if (!outcome.done) {
    return paymentPage(
      settings,
      consoleRequest,
      reply,
      payment,
      { actionError: { action, text: t('refused', { reason: outcome.refusal }) } },
      422,
    );
  }
  if (outcome.result === 'approved') {
    return reply.code(303).header('location', `/console/payments/${payment.transId}?done=${doneKey[action]}`).send();
  }
  const text =
    outcome.result === 'unknown' ? t('unknownOutcome') : t('declined', { reason: outcome.declineReason ?? '' });
  const fresh = (await visiblePayment(settings.context, session.user, payment.transId)) ?? payment;
  return paymentPage(settings, consoleRequest, reply, fresh, { bad: text });
}

const selected = (yes: boolean) => (yes ? new SafeHtml(' selected') : '');

/** Sandbox only: an issuer's chargeback, to see the merchant's side of one. */
async function chargebackAction(settings: ConsoleSettings, request: FastifyRequest, reply: FastifyReply) {
  const consoleRequest = await guarded(settings, request, reply, 'moveClock');
  if (!consoleRequest) return reply;
  const { t, session } = consoleRequest;
  const payment = await visiblePayment(settings.context, session.user, (request.params as { transId: string }).transId);
  if (!payment) return messagePage(reply, consoleRequest, 404, t('notFound'));
  const amount = formField(request.body, 'amount').trim();
  const outcome = await sandboxChargeback(settings.context, session.user, payment, {
    reasonCode: formField(request.body, 'reason_code').trim().slice(0, 20),
    amount: amount === '' ? undefined : amount,
  });
  if (!outcome.done) {
    const actionError = { action: 'chargeback' as const, text: t('refused', { reason: outcome.refusal }) };
    return paymentPage(settings, consoleRequest, reply, payment, { actionError }, 422);
  }
  return reply.code(303).header('location', `/console/payments/${payment.transId}?done=chargedBack`).send();
}

function chargebackForm(t: Translate, csrfToken: string, payment: Payment, error: string | undefined) {
  return html`<form class="inline" method="post" action="/console/payments/${payment.transId}/chargeback">
${csrfInput(csrfToken)}${field({ name: 'reason_code', id: 'field-reason-code', label: t('reasonCode'), value: '4837' })}
${field({
  name: 'amount',
  id: 'field-amount-chargeback',
  error,
  label: `${t('chargebackSandbox')}: ${t('amount').toLowerCase()} (${payment.currency})`,
})}
<button type="submit" class="secondary">${t('chargebackSandbox')}</button></form>`;
}

function searchFormOf(request: FastifyRequest): SearchForm {
  return {
    transId: queryField(request, 'trans_id'),
    orderId: queryField(request, 'order_id'),
    card: queryField(request, 'card'),
    status: queryField(request, 'status'),
    merchant: queryField(request, 'merchant'),
    amount: queryField(request, 'amount'),
    from: queryField(request, 'from'),
    to: queryField(request, 'to'),
    after: queryField(request, 'after'),
  };
}

async function searchPage(
  settings: ConsoleSettings,
  consoleRequest: ConsoleRequest & { session: { user: ConsoleUser } },
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const { t } = consoleRequest;
  const form = searchFormOf(request);
  const user = consoleRequest.session.user;
  const parsed = await paymentSearchOf(settings.context, user, form);
  const merchants = user.merchantId === null ? await allMerchants(settings.context.storage, 500) : [];
  const problems: SearchProblems = parsed.ok ? {} : parsed.problems;
  const result = parsed.ok ? await findPaymentsPage(settings.context, parsed.search) : { rows: [] };
  const error = (name: keyof SearchForm) => (problems[name] ? t('badInput') : undefined);
  const next = result.nextCursor
    ? (() => {
        const url = new URL(request.url, 'http://console');
        url.searchParams.set('after', result.nextCursor!);
        url.searchParams.delete('lang');
        return html`<p><a href="${url.pathname}${url.search}" rel="next">${t('nextPage')}</a></p>`;
      })()
    : '';
  return page(
    reply,
    consoleRequest,
    t('payments'),
    html`
<form class="grid" method="get" action="/console/payments" role="search">
${field({ name: 'trans_id', label: t('transId'), value: form.transId })}
${field({ name: 'order_id', label: t('orderId'), value: form.orderId })}
${field({ name: 'card', label: t('card'), value: form.card, error: error('card') })}
<div><label for="field-status">${t('status')}</label>
<select id="field-status" name="status"${problems.status ? new SafeHtml(' aria-invalid="true"') : ''}>
<option value="">${t('anyStatus')}</option>
${paymentStatuses.map((status) => html`<option${selected(form.status?.toUpperCase() === status)}>${status}</option>`)}
</select>${problems.status ? html`<p class="field-error">${t('badInput')}</p>` : ''}</div>
${
  user.merchantId === null
    ? html`<div><label for="field-merchant">${t('merchant')}</label>
<select id="field-merchant" name="merchant"${problems.merchant ? new SafeHtml(' aria-invalid="true"') : ''}>
<option value="">${t('anyMerchant')}</option>
${merchants.map(
  (merchant) =>
    html`<option value="${merchant.clientKey}"${selected(form.merchant === merchant.clientKey)}>${
      merchant.descriptor
    } (${merchant.email})</option>`,
)}
</select>${problems.merchant ? html`<p class="field-error">${t('badInput')}</p>` : ''}</div>`
    : ''
}
${field({ name: 'amount', label: t('amount'), value: form.amount, error: error('amount') })}
${field({ name: 'from', label: t('dateFrom'), value: form.from, error: error('from') })}
${field({ name: 'to', label: t('dateTo'), value: form.to, error: error('to') })}
<div><button type="submit">${t('search')}</button></div>
</form>
${problems.after ? notice('bad', t('badInput')) : ''}
${result.rows.length === 0 ? html`<p>${t('noPayments')}</p>` : paymentsTable(result.rows, t, settings.context.timeZone)}
${next}`,
    { statusCode: parsed.ok ? 200 : 400 },
  );
}

function paymentsTable(rows: PaymentListRow[], t: Translate, timeZone: string) {
  return html`<div class="scroll"><table><caption class="skip">${t('payments')}</caption><thead><tr>
<th scope="col">${t('created')}</th><th scope="col">${t('transId')}</th><th scope="col">${t('orderId')}</th>
<th scope="col">${t('status')}</th><th scope="col">${t('amount')}</th><th scope="col">${t('card')}</th></tr></thead>
<tbody>${rows.map(
    (row) => html`<tr>
<td>${formatTransDate(row.createdAtMs, timeZone)}</td><td>
<a class="mono" href="/console/payments/${row.transId}">${row.transId}</a></td>
<td>${row.orderId}</td><td>${row.status}</td><td>${formatAmount(row.amountMinor, row.currency)} ${row.currency}</td>
<td class="mono">${row.cardBin}******${row.cardLastFour}</td></tr>`,
  )}</tbody></table></div>`;
}

interface PaymentPageState {
  ok?: string;
  bad?: string;
  actionError?: { action: MoneyAction | 'chargeback'; text: string };
}

async function paymentPage(
  settings: ConsoleSettings,
  consoleRequest: ConsoleRequest & { session: { user: ConsoleUser; csrfToken: string } },
  reply: FastifyReply,
  payment: Payment,
  state: PaymentPageState,
  statusCode = 200,
): Promise<FastifyReply> {
  const { t } = consoleRequest;
  const view = await paymentPageOf(settings.context, payment);
  const zone = settings.context.timeZone;
  return page(
    reply,
    consoleRequest,
    `${t('payment')} ${payment.orderId}`,
    html`
${notice('ok', state.ok)}${notice('bad', state.bad)}
<dl class="facts">
<dt>${t('transId')}</dt><dd class="mono">${payment.transId}</dd>
<dt>${t('orderId')}</dt><dd>${payment.orderId}</dd>
<dt>${t('merchant')}</dt>
<dd>${view.merchant ? `${view.merchant.descriptor} (${view.merchant.clientKey})` : payment.merchantId}</dd>
<dt>${t('status')}</dt><dd>${payment.status}${payment.declineReason ? ` — ${payment.declineReason}` : ''}</dd>
<dt>${t('amount')}</dt>
<dd>${formatAmount(payment.amountMinor, payment.currency)} ${payment.currency} (captured ${formatAmount(
      payment.capturedMinor,
      payment.currency,
    )}, refunded ${formatAmount(payment.refundedMinor, payment.currency)})</dd>
<dt>${t('card')}</dt><dd class="mono">${payment.card.bin}******${payment.card.lastFour} ${payment.card.brand}</dd>
<dt>${t('created')}</dt><dd>${formatTransDate(payment.createdAtMs, zone)}</dd>
</dl>
${actionsOf(consoleRequest, payment, state, settings.sandbox)}
<h2>${t('history')}</h2>
<div class="scroll"><table><thead><tr><th scope="col">${t('time')}</th><th scope="col">${t('type')}</th>
<th scope="col">${t('status')}</th>
<th scope="col">${t('amount')}</th><th scope="col">${t('reason')}</th></tr></thead><tbody>${view.operations.map(
      (operation) => html`<tr>
<td>${formatTransDate(operation.createdAtMs, zone)}</td><td>${operation.type}</td><td>${operation.status}</td>
<td>${formatAmount(operation.amountMinor, payment.currency)}</td><td>${operation.declineReason ?? ''}</td></tr>`,
    )}</tbody></table></div>
${callbacksOf(consoleRequest, view)}`,
    { statusCode },
  );
}

function actionsOf(
  consoleRequest: ConsoleRequest & { session: { user: ConsoleUser; csrfToken: string } },
  payment: Payment,
  state: PaymentPageState,
  sandbox: boolean,
) {
  const { t, session } = consoleRequest;
  const role = session.user.role;
  const forms: SafeHtml[] = [];
  const errorOf = (action: MoneyAction | 'chargeback') =>
    state.actionError?.action === action ? state.actionError.text : undefined;
  const amountForm = (
    action: MoneyAction,
    label: string,
  ) => html`<form class="inline" method="post" action="/console/payments/${payment.transId}/${action}">
${csrfInput(session.csrfToken)}${field({
  name: 'amount',
  id: `field-amount-${action}`,
  label: `${label}: ${t('amount').toLowerCase()} (${payment.currency})`,
  error: errorOf(action),
})}
<button type="submit">${label}</button></form>`;
  const settled = payment.status === 'SETTLED';
  const held = payment.status === 'PENDING' && payment.isAuth;
  if (held && may(role, 'moveMoney')) forms.push(amountForm('capture', t('capture')));
  if (held && may(role, 'moveMoney')) {
    forms.push(html`<form class="inline" method="post" action="/console/payments/${payment.transId}/refund">
${csrfInput(session.csrfToken)}
<button type="submit" class="secondary">${t('reverse')}</button>${
      errorOf('refund')
        ? html`<p class="field-error">
${errorOf('refund')}</p>`
        : ''
    }</form>`);
  }
  if (settled && may(role, 'refund')) forms.push(amountForm('refund', t('refund')));
  if (settled && may(role, 'moveMoney')) {
    forms.push(html`<form class="inline" method="post" action="/console/payments/${payment.transId}/void">
${csrfInput(session.csrfToken)}
<button type="submit" class="danger">${t('voidPayment')}</button>${
      errorOf('void')
        ? html`<p class="field-error">
${errorOf('void')}</p>`
        : ''
    }</form>`);
  }
  if (sandbox && (payment.status === '3DS' || payment.status === 'REDIRECT') && may(role, 'moveClock')) {
    forms.push(html`<form class="inline" method="post" action="/console/payments/${payment.transId}/expire-challenge">
${csrfInput(session.csrfToken)}<button type="submit" class="secondary">${t('expireChallenge')}</button></form>`);
  }
  if (sandbox && settled && may(role, 'moveClock'))
    forms.push(chargebackForm(t, session.csrfToken, payment, errorOf('chargeback')));
  return forms.length === 0 ? '' : html`<h2>${t('actions')}</h2>${forms}`;
}

function callbacksOf(
  consoleRequest: ConsoleRequest & { session: { user: ConsoleUser; csrfToken: string } },
  view: PaymentPage,
) {
  const { t, session } = consoleRequest;
  const canResend = may(session.user.role, 'resendCallback');
  return html`<h2 id="callbacks">${t('callbacks')}</h2>${
    view.callbacks.length === 0
      ? html`<p>${t('noCallbacks')}</p>`
      : view.callbacks.map(
          (callback) => html`
<section aria-label="${t('callbacks')} ${callback.outbox_id}">
<p><strong>${callback.action} ${callback.result} ${callback.payment_status ?? ''}
</strong> — ${t('state')}: ${callback.state}, ${t('attempts')}: ${callback.attempt_count}</p>
${
  canResend
    ? html`<form method="post" action="/console/callbacks/${callback.outbox_id}/resend">
${csrfInput(session.csrfToken)}<button type="submit" class="secondary">${t('resend')}</button></form>`
    : ''
}
${
  callback.attempts.length === 0
    ? html`<p>${t('noAttempts')}</p>`
    : html`<div class="scroll"><table><thead><tr><th scope="col">${t('time')}</th>
<th scope="col">URL</th><th scope="col">${t('httpStatus')}</th><th scope="col">${t('answer')}</th>
<th scope="col">${t('durationMs')}</th><th scope="col">${t('outcome')}</th></tr></thead><tbody>${callback.attempts.map(
        (attempt) => html`<tr><td>${attempt.attempted_at}</td><td class="mono">${attempt.url}</td>
<td>${attempt.status_code ?? '—'}</td>
<td class="mono">${attempt.answer ?? ''}</td><td>${attempt.duration_ms}</td><td>${attempt.outcome}</td></tr>`,
      )}</tbody></table></div>`
}
</section>`,
        )
  }`;
}
