import type { FastifyInstance } from 'fastify';
import { formatTransDate } from '../domain/dates.ts';
import { parseDuration } from '../domain/durations.ts';
import { formatAmount } from '../domain/money.ts';
import { html } from '../http/pages/html.ts';
import { actorOf, auditEntries, may, recordAudit } from '../operations/console-accounts.ts';
import {
  actOnSchedule,
  consoleSchedules,
  scheduleActions,
  type ScheduleAction,
} from '../operations/console-schedules.ts';
import { advanceSandboxClock, chargebacksOf, sandboxClockOffsetMs } from '../operations/console-pages.ts';
import { LockoutInputError, liftLockout, listLockouts } from '../operations/hash-lockouts.ts';
import { blockedUrls, unblockUrl } from '../operations/manage-callbacks.ts';
import {
  approveRefundApplication,
  findApplications,
  RefundApplicationError,
  rejectRefundApplication,
} from '../operations/refund-applications.ts';
import { csrfInput, field, notice } from './layout.ts';
import { formField, guarded, operatorsOnly, page, queryField, type ConsoleSettings } from './session.ts';

/** Blocked URLs, wrong-hash lockouts, chargebacks, refund applications, the audit log, the clock. */
export function registerAdministrationPages(scope: FastifyInstance, settings: ConsoleSettings): void {
  registerBlockedUrls(scope, settings);
  registerLockouts(scope, settings);
  registerRefundApplications(scope, settings);
  registerAudit(scope, settings);
  registerClock(scope, settings);
  registerSchedules(scope, settings);
  scope.get('/console/chargebacks', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply);
    if (!consoleRequest || !operatorsOnly(reply, consoleRequest)) return reply;
    const { t } = consoleRequest;
    const rows = await chargebacksOf(settings.context);
    return page(
      reply,
      consoleRequest,
      t('chargebacks'),
      rows.length === 0
        ? html`<p>${t('noChargebacks')}</p>`
        : html`<div class="scroll"><table><thead><tr>
<th scope="col">${t('time')}</th><th scope="col">${t('transId')}</th><th scope="col">${t('orderId')}</th>
<th scope="col">${t('amount')}</th><th scope="col">${t('reason')}</th></tr></thead><tbody>${rows.map(
            (row) => html`<tr><td>${formatTransDate(row.createdAtMs, settings.context.timeZone)}</td><td>
<a class="mono" href="/console/payments/${row.transId}">${row.transId}</a></td>
<td>${row.orderId}</td><td>${formatAmount(row.amountMinor, row.currency)} ${row.currency}</td>
<td>${row.reason ?? ''}</td></tr>`,
          )}</tbody></table></div>`,
    );
  });
}

function registerBlockedUrls(scope: FastifyInstance, settings: ConsoleSettings): void {
  const { context } = settings;
  scope.get('/console/blocked-urls', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply);
    if (!consoleRequest || !operatorsOnly(reply, consoleRequest)) return reply;
    const { t, session } = consoleRequest;
    const rows = await blockedUrls(context, 500);
    const canUnblock = session.user.role === 'administrator' || session.user.role === 'support';
    return page(
      reply,
      consoleRequest,
      t('blockedUrls'),
      html`${notice('ok', queryField(request, 'done') === 'unblocked' ? t('unblocked') : undefined)}
${
  rows.length === 0
    ? html`<p>${t('noBlockedUrls')}</p>`
    : html`<div class="scroll"><table><thead><tr><th scope="col">URL</th><th scope="col">${t('failures')}</th>
<th scope="col">${t('blockedUntil')}</th>
<th scope="col">${t('merchants')}</th>${canUnblock ? html`<th scope="col">${t('unblock')}</th>` : ''}</tr></thead>
<tbody>${rows.map(
        (row) => html`<tr>
<td class="mono">${row.url}</td><td>${row.consecutive_failures}</td><td>${row.blocked_until ?? ''}</td>
<td>${row.merchants}</td>
${
  canUnblock
    ? html`<td><form method="post" action="/console/blocked-urls/unblock">${csrfInput(session.csrfToken)}
<input type="hidden" name="url" value="${row.url}">
<button type="submit" aria-label="${t('unblock')} ${row.url}">${t('unblock')}</button></form></td>`
    : ''
}</tr>`,
      )}</tbody></table></div>`
}`,
    );
  });
  scope.post('/console/blocked-urls/unblock', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply, 'unblockUrl');
    if (!consoleRequest) return reply;
    const url = formField(request.body, 'url').slice(0, 2048);
    const result = await unblockUrl(context, url);
    await recordAudit(context.storage, context.clock, actorOf(consoleRequest.session.user), {
      action: 'callback URL unblocked',
      target: url,
      before: { blocked: result.was_blocked },
      after: { blocked: false },
    });
    return reply.code(303).header('location', '/console/blocked-urls?done=unblocked').send();
  });
}

function registerLockouts(scope: FastifyInstance, settings: ConsoleSettings): void {
  const { context } = settings;
  scope.get('/console/lockouts', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply);
    if (!consoleRequest || !operatorsOnly(reply, consoleRequest)) return reply;
    const { t, session } = consoleRequest;
    const rows = await listLockouts(context.storage, { limit: 500 });
    const canLift = session.user.role === 'administrator';
    return page(
      reply,
      consoleRequest,
      t('lockouts'),
      html`${notice('ok', queryField(request, 'done') === 'lifted' ? t('lifted') : undefined)}
${
  rows.length === 0
    ? html`<p>${t('noLockouts')}</p>`
    : html`<div class="scroll"><table><thead><tr><th scope="col">${t('clientKey')}</th><th scope="col">${t('ip')}</th>
<th scope="col">${t('wrongHashes')}</th>
<th scope="col">${t('lockedUntil')}</th>${canLift ? html`<th scope="col">${t('lift')}</th>` : ''}</tr></thead>
<tbody>${rows.map(
        (row) => html`<tr>
<td class="mono">${row.clientKey}</td><td class="mono">${row.ip}</td><td>${row.wrongHashes}</td>
<td>${row.lockedUntilMs > 0 ? formatTransDate(row.lockedUntilMs, context.timeZone) : '—'}</td>
${
  canLift
    ? html`<td><form method="post" action="/console/lockouts/lift">${csrfInput(session.csrfToken)}
<input type="hidden" name="client_key" value="${row.clientKey}">
<input type="hidden" name="ip" value="${row.ip}">
<button type="submit" aria-label="${t('lift')} ${row.ip}">${t('lift')}</button></form></td>`
    : ''
}</tr>`,
      )}</tbody></table></div>`
}`,
    );
  });
  scope.post('/console/lockouts/lift', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply, 'liftLockout');
    if (!consoleRequest) return reply;
    const clientKey = formField(request.body, 'client_key').slice(0, 100);
    const ip = formField(request.body, 'ip').slice(0, 100);
    try {
      const lifted = await liftLockout(context.storage, clientKey, ip);
      await recordAudit(context.storage, context.clock, actorOf(consoleRequest.session.user), {
        action: 'wrong-hash lockout lifted',
        target: `${clientKey} ${ip}`,
        before: { locked: lifted },
        after: { locked: false },
      });
    } catch (error) {
      if (!(error instanceof LockoutInputError)) throw error;
      return page(reply, consoleRequest, consoleRequest.t('lockouts'), notice('bad', error.message) || html``, {
        statusCode: 400,
      });
    }
    return reply.code(303).header('location', '/console/lockouts?done=lifted').send();
  });
}

function registerRefundApplications(scope: FastifyInstance, settings: ConsoleSettings): void {
  const { context } = settings;
  scope.get('/console/refund-applications', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply);
    if (!consoleRequest || !operatorsOnly(reply, consoleRequest)) return reply;
    const { t, session } = consoleRequest;
    const rows = await findApplications(context, { limit: 200 });
    const canDecide = session.user.role === 'administrator';
    const problem = queryField(request, 'problem');
    return page(
      reply,
      consoleRequest,
      t('refundApplications'),
      html`${notice('bad', problem || undefined)}${
        rows.length === 0
          ? html`<p>${t('noApplications')}</p>`
          : rows.map(
              (row) => html`
<section aria-label="${row.application_id}">
<h2>${row.amount} ${row.currency} — ${row.status}${row.overdue ? ' (overdue)' : ''}</h2>
<dl class="facts"><dt>${t('transId')}</dt><dd>
<a class="mono" href="/console/payments/${row.trans_id}">${row.trans_id}</a></dd><dt>${t('reason')}</dt>
<dd>${row.reason}</dd>
<dt>${t('deadline')}</dt><dd>${row.deadline}</dd><dt>${t('note')}</dt><dd>${row.decision_note ?? ''}</dd></dl>
${
  canDecide && row.status === 'RECEIVED'
    ? html`<form class="inline" method="post" action="/console/refund-applications/${row.application_id}/decide">
${csrfInput(session.csrfToken)}
${field({ name: 'note', id: `field-note-${row.application_id}`, label: t('note') })}
<button type="submit" name="decision" value="approve">${t('approve')}</button>
<button type="submit" name="decision" value="reject" class="danger">${t('reject')}</button></form>`
    : ''
}</section>`,
            )
      }`,
    );
  });
  scope.post('/console/refund-applications/:applicationId/decide', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply, 'decideApplications');
    if (!consoleRequest) return reply;
    const applicationId = (request.params as { applicationId: string }).applicationId.slice(0, 100);
    const note = formField(request.body, 'note').trim().slice(0, 2000);
    const approve = formField(request.body, 'decision') === 'approve';
    try {
      const decided = approve
        ? await approveRefundApplication(context, applicationId, note || null)
        : await rejectRefundApplication(context, applicationId, note);
      await recordAudit(context.storage, context.clock, actorOf(consoleRequest.session.user), {
        action: approve ? 'refund application approved' : 'refund application rejected',
        target: applicationId,
        before: { status: 'RECEIVED' },
        after: { status: decided.status, note },
      });
    } catch (error) {
      if (!(error instanceof RefundApplicationError)) throw error;
      return reply
        .code(303)
        .header('location', `/console/refund-applications?problem=${encodeURIComponent(error.message.slice(0, 300))}`)
        .send();
    }
    return reply.code(303).header('location', '/console/refund-applications').send();
  });
}

function registerAudit(scope: FastifyInstance, settings: ConsoleSettings): void {
  scope.get('/console/audit', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply, 'readAudit');
    if (!consoleRequest) return reply;
    const { t } = consoleRequest;
    const cursor = /^(\d{1,16})_([0-9a-f-]{36})$/.exec(queryField(request, 'before'));
    const entries = await auditEntries(settings.context.storage, {
      limit: 101,
      before: cursor ? { atMs: Number(cursor[1]), entryId: cursor[2] } : undefined,
    });
    const shown = entries.slice(0, 100);
    const last = shown[shown.length - 1];
    return page(
      reply,
      consoleRequest,
      t('audit'),
      html`<div class="scroll"><table class="audit"><thead><tr><th scope="col">${t('time')}</th>
<th scope="col">${t('actor')}</th>
<th scope="col">${t('action')}</th><th scope="col">${t('target')}</th><th scope="col">${t('before')}</th>
<th scope="col">${t('after')}</th></tr></thead><tbody>${shown.map(
        (entry) => html`<tr><td>${formatTransDate(entry.atMs, settings.context.timeZone)}</td>
<td>${entry.actor} (${entry.actorRole})</td><td>${entry.action}</td>
<td class="mono">${entry.target}</td><td class="mono">${entry.before ?? ''}</td>
<td class="mono">${entry.after ?? ''}</td></tr>`,
      )}</tbody></table></div>
${
  entries.length > 100 && last
    ? html`<p>
<a rel="next" href="/console/audit?before=${last.atMs}_${last.entryId}">${t('nextPage')}</a></p>`
    : ''
}`,
    );
  });
}

function registerClock(scope: FastifyInstance, settings: ConsoleSettings): void {
  if (!settings.sandbox) return;
  const { context } = settings;
  const clockPage = async (consoleRequest: NonNullable<Awaited<ReturnType<typeof guarded>>>, error?: string) => {
    const { t, session } = consoleRequest;
    return html`<dl class="facts"><dt>${t('now')}</dt>
<dd>${formatTransDate(context.clock.nowMs(), context.timeZone)}</dd>
<dt>offset</dt><dd>${await sandboxClockOffsetMs(context)} ms</dd></dl>
<form method="post" action="/console/clock/advance">
${csrfInput(session.csrfToken)}${field({ name: 'duration', label: t('duration'), error })}
<p><button type="submit">${t('advance')}</button></p></form>`;
  };
  scope.get('/console/clock', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply, 'moveClock');
    if (!consoleRequest) return reply;
    return page(reply, consoleRequest, consoleRequest.t('clock'), await clockPage(consoleRequest));
  });
  scope.post('/console/clock/advance', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply, 'moveClock');
    if (!consoleRequest) return reply;
    const durationMs = parseDuration(formField(request.body, 'duration').trim());
    if (durationMs === undefined) {
      return page(
        reply,
        consoleRequest,
        consoleRequest.t('clock'),
        await clockPage(consoleRequest, consoleRequest.t('badInput')),
        { statusCode: 400 },
      );
    }
    const before = context.clock.nowMs();
    await advanceSandboxClock(context, durationMs);
    await recordAudit(context.storage, context.clock, actorOf(consoleRequest.session.user), {
      action: 'sandbox clock advanced',
      target: formField(request.body, 'duration').trim(),
      before: { now_ms: before },
      after: { now_ms: context.clock.nowMs() },
    });
    return reply.code(303).header('location', '/console/clock').send();
  });
}

function registerSchedules(scope: FastifyInstance, settings: ConsoleSettings): void {
  const { context } = settings;
  scope.get('/console/schedules', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply);
    if (!consoleRequest || !operatorsOnly(reply, consoleRequest)) return reply;
    const { t, session } = consoleRequest;
    const rows = await consoleSchedules(context, session.user);
    const canAct = may(session.user.role, 'manageSchedules');
    const problem = queryField(request, 'problem');
    const button = (row: (typeof rows)[number], action: ScheduleAction, label: string, kind = '') =>
      html`<form class="inline" method="post" action="/console/schedules/${row.scheduleId}/${action}">
${csrfInput(session.csrfToken)}
<input type="hidden" name="merchant_id" value="${row.merchantId}">
<button type="submit" class="${kind}" aria-label="${label} ${row.name}">${label}</button></form>`;
    return page(
      reply,
      consoleRequest,
      t('schedules'),
      html`${notice('bad', problem || undefined)}${notice(
        'ok',
        queryField(request, 'done') ? t('scheduleDone') : undefined,
      )}
${
  rows.length === 0
    ? html`<p>${t('noSchedules')}</p>`
    : html`<div class="scroll"><table><thead><tr><th scope="col">${t('name')}</th>
<th scope="col">schedule_id</th><th scope="col">${t('interval')}</th><th scope="col">${t('state')}</th>${
        canAct ? html`<th scope="col">${t('actions')}</th>` : ''
      }</tr></thead><tbody>${rows.map(
        (row) => html`<tr><td>${row.name}</td>
<td class="mono">${row.scheduleId}</td><td>${row.intervalLength} ${row.intervalUnit}, ${row.paymentsCount}×</td>
<td>${row.paused ? t('paused') : t('active')}</td>${
          canAct
            ? html`<td>${row.paused ? button(row, 'run', t('run')) : button(row, 'pause', t('pause'))}
${button(row, 'delete', t('deleteSchedule'), 'danger')}</td>`
            : ''
        }</tr>`,
      )}</tbody></table></div>`
}`,
    );
  });
  scope.post('/console/schedules/:scheduleId/:action', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply, 'manageSchedules');
    if (!consoleRequest) return reply;
    const { scheduleId, action } = request.params as { scheduleId: string; action: string };
    if (!Object.hasOwn(scheduleActions, action)) return reply.code(303).header('location', '/console/schedules').send();
    const outcome = await actOnSchedule(
      context,
      consoleRequest.session.user,
      formField(request.body, 'merchant_id'),
      scheduleId,
      action as ScheduleAction,
    );
    const query = outcome.done ? 'done=1' : `problem=${encodeURIComponent(outcome.refusal.slice(0, 300))}`;
    return reply.code(303).header('location', `/console/schedules?${query}`).send();
  });
}
