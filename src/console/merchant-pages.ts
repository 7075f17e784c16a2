import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { html, SafeHtml } from '../http/pages/html.ts';
import {
  actorOf,
  ConsoleInputError,
  createConsoleUser,
  recordAudit,
  type ConsoleSession,
} from '../operations/console-accounts.ts';
import { merchantByClientKey, merchantById, rotateMerchantPassword } from '../operations/console-pages.ts';
import {
  allMerchants,
  createMerchant,
  describeMerchant,
  settingProblems,
  updateMerchant,
} from '../operations/manage-merchants.ts';
import type { MerchantRecord, MerchantSettings } from '../operations/console-pages.ts';
import type { Translate } from './i18n.ts';
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

/** Merchants (operators) and a merchant user's credentials. */

type Problems = Partial<Record<keyof MerchantSettings, string>>;
type Guarded = ConsoleRequest & { session: ConsoleSession };

const lines = (text: string) =>
  text
    .split(/[\r\n,]+/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .slice(0, 100);

/** The form as typed, and the settings it means; problems by field, checked by the same rules as the CLI. */
function settingsOfForm(body: unknown): { settings: MerchantSettings; problems: Problems } {
  const refundDaysText = formField(body, 'refund_days').trim();
  const settings: MerchantSettings = {
    email: formField(body, 'email').trim(),
    callbackUrl: formField(body, 'callback_url').trim() || null,
    allowedIps: lines(formField(body, 'allowed_ips')),
    channels: lines(formField(body, 'channels')),
    threeDsEnabled: formField(body, 'three_ds') === 'on',
    s2sCardEnabled: true,
    descriptor: formField(body, 'descriptor').trim(),
    frameOrigins: lines(formField(body, 'frame_origins')),
    refundDays: refundDaysText === '' ? 14 : /^\d{1,3}$/.test(refundDaysText) ? Number(refundDaysText) : Number.NaN,
  };
  const problems: Problems = settingProblems(settings);
  if (settings.email === '') problems.email = 'required';
  if (settings.descriptor === '' || settings.descriptor.length > 64) problems.descriptor = '1–64 characters';
  return { settings, problems };
}

function merchantForm(
  t: Translate,
  csrf: string,
  action: string,
  values: Partial<MerchantSettings>,
  problems: Problems,
  submit: string,
) {
  return html`<form method="post" action="${action}">${csrfInput(csrf)}
${field({
  name: 'email',
  label: t('email'),
  type: 'email',
  value: values.email,
  error: problems.email,
  required: true,
})}
${field({
  name: 'callback_url',
  label: t('callbackUrl'),
  type: 'url',
  value: values.callbackUrl ?? '',
  error: problems.callbackUrl,
})}
${field({
  name: 'allowed_ips',
  label: t('allowedIps'),
  value: (values.allowedIps ?? []).join('\n'),
  error: problems.allowedIps,
  multiline: true,
})}
${field({
  name: 'channels',
  label: t('channels'),
  value: (values.channels ?? []).join('\n'),
  error: problems.channels,
  multiline: true,
})}
${field({
  name: 'descriptor',
  label: t('descriptor'),
  value: values.descriptor,
  error: problems.descriptor,
  required: true,
})}
${field({
  name: 'frame_origins',
  label: t('frameOrigins'),
  value: (values.frameOrigins ?? []).join('\n'),
  error: problems.frameOrigins,
  multiline: true,
})}
${field({
  name: 'refund_days',
  label: t('refundDays'),
  value: String(values.refundDays ?? 14),
  error: problems.refundDays,
})}
<p><input type="checkbox" id="field-three_ds" name="three_ds"${values.threeDsEnabled ? new SafeHtml(' checked') : ''}>
<label for="field-three_ds" class="inline">${t('threeDs')}</label></p>
<p><button type="submit">${submit}</button></p></form>`;
}

export function registerMerchantPages(scope: FastifyInstance, settings: ConsoleSettings): void {
  const { context } = settings;
  scope.get('/console/merchants', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply);
    if (!consoleRequest || !operatorsOnly(reply, consoleRequest)) return reply;
    const { t, session } = consoleRequest;
    const merchants = await allMerchants(context.storage, 1_000);
    const canEdit = session.user.role === 'administrator';
    return page(
      reply,
      consoleRequest,
      t('merchants'),
      html`${canEdit ? html`<p><a href="/console/merchants/new">${t('newMerchant')}</a></p>` : ''}
<div class="scroll"><table><thead><tr><th scope="col">${t('descriptor')}</th><th scope="col">${t('email')}</th>
<th scope="col">${t('clientKey')}</th>
<th scope="col">${t('callbackUrl')}</th></tr></thead><tbody>${merchants.map(
        (merchant) => html`<tr><td><a href="/console/merchants/${merchant.clientKey}">${merchant.descriptor}</a></td>
<td>${merchant.email}</td><td class="mono">${merchant.clientKey}</td>
<td class="mono">${merchant.callbackUrl ?? '—'}</td></tr>`,
      )}</tbody></table></div>`,
    );
  });
  registerMerchantCreation(scope, settings);
  registerMerchantEditing(scope, settings);
  registerCredentials(scope, settings);
  registerMerchantAdministration(scope, settings);
}

function registerMerchantAdministration(scope: FastifyInstance, settings: ConsoleSettings): void {
  const { context } = settings;
  scope.post('/console/merchants/:clientKey/enabled', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply, 'manageMerchants');
    if (!consoleRequest) return reply;
    const merchant = await merchantByClientKey(context, (request.params as { clientKey: string }).clientKey);
    if (!merchant) return messagePage(reply, consoleRequest, 404, consoleRequest.t('notFound'));
    const enabled = formField(request.body, 'enabled') === 'on';
    const after = await updateMerchant(context, merchant.clientKey, { s2sCardEnabled: enabled });
    await recordAudit(context.storage, context.clock, actorOf(consoleRequest.session.user), {
      action: enabled ? 'merchant enabled' : 'merchant disabled',
      target: merchant.clientKey,
      merchantId: merchant.merchantId,
      before: { s2s_card: merchant.s2sCardEnabled },
      after: { s2s_card: after.s2sCardEnabled },
    });
    return reply.code(303).header('location', `/console/merchants/${merchant.clientKey}?done=saved`).send();
  });
  scope.post('/console/merchants/:clientKey/users', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply, 'manageUsers');
    if (!consoleRequest) return reply;
    const merchant = await merchantByClientKey(context, (request.params as { clientKey: string }).clientKey);
    if (!merchant) return messagePage(reply, consoleRequest, 404, consoleRequest.t('notFound'));
    const email = formField(request.body, 'email').trim().slice(0, 254);
    try {
      const { user, password } = await createConsoleUser(context, actorOf(consoleRequest.session.user), {
        email,
        role: 'merchant',
        merchantClientKey: merchant.clientKey,
      });
      return merchantPage(consoleRequest, reply, merchant, { newUser: { email: user.email, password } });
    } catch (error) {
      if (!(error instanceof ConsoleInputError)) throw error;
      return merchantPage(consoleRequest, reply, merchant, { newUser: { email, error: error.message } }, 400);
    }
  });
}

function registerMerchantCreation(scope: FastifyInstance, settings: ConsoleSettings): void {
  const { context } = settings;
  scope.get('/console/merchants/new', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply, 'manageMerchants');
    if (!consoleRequest) return reply;
    const { t, session } = consoleRequest;
    const defaults = { allowedIps: ['127.0.0.1', '::1'], threeDsEnabled: true, descriptor: '', refundDays: 14 };
    return page(
      reply,
      consoleRequest,
      t('newMerchant'),
      merchantForm(t, session.csrfToken, '/console/merchants', defaults, {}, t('create')),
    );
  });
  scope.post('/console/merchants', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply, 'manageMerchants');
    if (!consoleRequest) return reply;
    const { t, session } = consoleRequest;
    const { settings: values, problems } = settingsOfForm(request.body);
    if (Object.keys(problems).length > 0) {
      return page(
        reply,
        consoleRequest,
        t('newMerchant'),
        html`${notice('bad', t('badInput'))}${merchantForm(
          t,
          session.csrfToken,
          '/console/merchants',
          values,
          problems,
          t('create'),
        )}`,
        { statusCode: 400 },
      );
    }
    const { merchant, password } = await createMerchant(context, values);
    await recordAudit(context.storage, context.clock, actorOf(session.user), {
      action: 'merchant created',
      target: merchant.clientKey,
      merchantId: merchant.merchantId,
      after: describeMerchant(merchant),
    });
    return merchantPage(consoleRequest, reply, merchant, { password, created: true });
  });
}

function registerMerchantEditing(scope: FastifyInstance, settings: ConsoleSettings): void {
  const { context } = settings;
  scope.get('/console/merchants/:clientKey', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply);
    if (!consoleRequest || !operatorsOnly(reply, consoleRequest)) return reply;
    const merchant = await merchantByClientKey(context, (request.params as { clientKey: string }).clientKey);
    if (!merchant) return messagePage(reply, consoleRequest, 404, consoleRequest.t('notFound'));
    return merchantPage(consoleRequest, reply, merchant, { saved: queryField(request, 'done') === 'saved' });
  });
  scope.post('/console/merchants/:clientKey', (request, reply) => editMerchant(settings, request, reply));
  scope.post('/console/merchants/:clientKey/rotate-password', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply, 'manageMerchants');
    if (!consoleRequest) return reply;
    const merchant = await merchantByClientKey(context, (request.params as { clientKey: string }).clientKey);
    if (!merchant) return messagePage(reply, consoleRequest, 404, consoleRequest.t('notFound'));
    const password = await rotateMerchantPassword(context, consoleRequest.session.user, merchant);
    return merchantPage(consoleRequest, reply, merchant, { password });
  });
}

async function editMerchant(settings: ConsoleSettings, request: FastifyRequest, reply: FastifyReply) {
  const { context } = settings;
  const consoleRequest = await guarded(settings, request, reply, 'manageMerchants');
  if (!consoleRequest) return reply;
  const merchant = await merchantByClientKey(context, (request.params as { clientKey: string }).clientKey);
  if (!merchant) return messagePage(reply, consoleRequest, 404, consoleRequest.t('notFound'));
  const { settings: values, problems } = settingsOfForm(request.body);
  if (Object.keys(problems).length > 0) {
    return merchantPage(consoleRequest, reply, { ...merchant, ...values }, { problems }, 400);
  }
  // s2s_card is not on the form: it keeps its value.
  const { s2sCardEnabled: _kept, ...changes } = values;
  const after = await updateMerchant(context, merchant.clientKey, changes);
  await recordAudit(context.storage, context.clock, actorOf(consoleRequest.session.user), {
    action: 'merchant edited',
    target: merchant.clientKey,
    merchantId: merchant.merchantId,
    before: describeMerchant(merchant),
    after: describeMerchant(after),
  });
  return reply.code(303).header('location', `/console/merchants/${merchant.clientKey}?done=saved`).send();
}

interface MerchantPageState {
  password?: string;
  created?: boolean;
  saved?: boolean;
  problems?: Problems;
  /** A merchant user just created, with its password (shown once), or the e-mail's problem. */
  newUser?: { email: string; password?: string; error?: string };
}

/** Enable/disable (the S2S CARD mapping: off answers 204002) and the merchant's console users. */
function administrationOf(t: Translate, csrf: string, merchant: MerchantRecord, state: MerchantPageState) {
  const created = state.newUser?.password
    ? html`<p>${t('userCreated', { email: state.newUser.email })}</p><p class="secret">${state.newUser.password}</p>`
    : '';
  return html`<h2>${merchant.s2sCardEnabled ? t('disable') : t('enable')}</h2>
<p>${merchant.s2sCardEnabled ? t('enabledNote') : t('disabledNote')}</p>
<form method="post" action="/console/merchants/${merchant.clientKey}/enabled">${csrfInput(csrf)}
<input type="hidden" name="enabled" value="${merchant.s2sCardEnabled ? 'off' : 'on'}">
<button type="submit" class="${merchant.s2sCardEnabled ? 'danger' : ''}">
${merchant.s2sCardEnabled ? t('disable') : t('enable')}</button></form>
<h2>${t('merchantUsers')}</h2>${created}
<form class="inline" method="post" action="/console/merchants/${merchant.clientKey}/users">${csrfInput(csrf)}
${field({
  name: 'email',
  id: 'field-user-email',
  label: t('email'),
  type: 'email',
  value: state.newUser?.password ? '' : state.newUser?.email,
  error: state.newUser?.error,
})}
<button type="submit">${t('addUser')}</button></form>`;
}

function merchantPage(
  consoleRequest: Guarded,
  reply: FastifyReply,
  merchant: MerchantRecord,
  state: MerchantPageState,
  statusCode = 200,
) {
  const { t, session } = consoleRequest;
  const canEdit = session.user.role === 'administrator';
  const secret = state.password
    ? html`<p>${state.created ? t('merchantCreated') : t('newPassword')}</p><p class="secret">${state.password}</p>`
    : '';
  return page(
    reply,
    consoleRequest,
    `${t('merchant')} ${merchant.descriptor}`,
    html`${notice('ok', state.saved ? t('saved') : undefined)}
${state.problems ? notice('bad', t('badInput')) : ''}${secret}
<dl class="facts"><dt>${t('clientKey')}</dt><dd class="mono">${merchant.clientKey}</dd><dt>merchant_id</dt>
<dd class="mono">${merchant.merchantId}</dd></dl>
${
  canEdit
    ? html`${merchantForm(
        t,
        session.csrfToken,
        `/console/merchants/${merchant.clientKey}`,
        merchant,
        state.problems ?? {},
        t('save'),
      )}
<h2>${t('rotatePassword')}</h2>
<form method="post" action="/console/merchants/${merchant.clientKey}/rotate-password">${csrfInput(session.csrfToken)}
<button type="submit" class="danger">${t('rotatePassword')}</button></form>
${administrationOf(t, session.csrfToken, merchant, state)}`
    : html`<dl class="facts"><dt>${t('email')}</dt><dd>${merchant.email}</dd>
<dt>${t('callbackUrl')}</dt><dd class="mono">${merchant.callbackUrl ?? '—'}</dd><dt>${t('allowedIps')}</dt>
<dd>${merchant.allowedIps.join(', ')}</dd>
<dt>${t('threeDs')}</dt><dd>${merchant.threeDsEnabled ? t('yes') : t('no')}</dd></dl>`
}
<p><a href="/console/payments?merchant=${merchant.clientKey}">${t('payments')}</a></p>`,
    { statusCode },
  );
}

/** A merchant user's own client_key and PASSWORD rotation. */
function registerCredentials(scope: FastifyInstance, settings: ConsoleSettings): void {
  const { context } = settings;
  const credentialsPage = (
    consoleRequest: Guarded,
    reply: FastifyReply,
    merchant: MerchantRecord,
    password?: string,
  ) => {
    const { t, session } = consoleRequest;
    return page(
      reply,
      consoleRequest,
      t('credentials'),
      html`${password ? html`<p>${t('newPassword')}</p><p class="secret">${password}</p>` : ''}
<dl class="facts"><dt>${t('clientKey')}</dt><dd class="mono">${merchant.clientKey}</dd><dt>${t('callbackUrl')}</dt>
<dd class="mono">${merchant.callbackUrl ?? '—'}</dd></dl>
<form method="post" action="/console/credentials/rotate-password">${csrfInput(session.csrfToken)}
<button type="submit" class="danger">${t('rotatePassword')}</button></form>`,
    );
  };
  scope.get('/console/credentials', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply, 'rotateOwnPassword');
    if (!consoleRequest) return reply;
    const merchant = await merchantById(context, consoleRequest.session.user.merchantId ?? '');
    if (!merchant) return messagePage(reply, consoleRequest, 404, consoleRequest.t('notFound'));
    return credentialsPage(consoleRequest, reply, merchant);
  });
  scope.post('/console/credentials/rotate-password', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply, 'rotateOwnPassword');
    if (!consoleRequest) return reply;
    const merchant = await merchantById(context, consoleRequest.session.user.merchantId ?? '');
    if (!merchant) return messagePage(reply, consoleRequest, 404, consoleRequest.t('notFound'));
    return credentialsPage(
      consoleRequest,
      reply,
      merchant,
      await rotateMerchantPassword(context, consoleRequest.session.user, merchant),
    );
  });
}
