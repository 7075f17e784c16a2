import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatAmount } from '../domain/money.ts';
import { html } from '../http/pages/html.ts';
import { signIn, signOut } from '../operations/console-accounts.ts';
import type { PlatformContext } from '../operations/context.ts';
import { todayOf } from '../operations/console-pages.ts';
import { translatorFor } from './i18n.ts';
import { csrfInput, field, notice, sendConsolePage } from './layout.ts';
import { registerAdministrationPages } from './administration-pages.ts';
import { registerMerchantPages } from './merchant-pages.ts';
import { registerPaymentPages } from './payment-pages.ts';
import {
  consoleRequestOf,
  cookie,
  formField,
  guarded,
  messagePage,
  newSignInToken,
  page,
  queryField,
  sessionCookie,
  signInCookie,
  signInTokenMatches,
  type ConsoleSettings,
} from './session.ts';
import { registerRoutingPages } from './routing-pages.ts';
import { registerSignaturePage } from './signature-page.ts';

/**
 * The admin console (issue #12): server-rendered pages under /console that work without
 * JavaScript, on the operations the API uses. `GET /` is the platform's front door.
 */
type PageHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;

/** `frontDoor` answers a person's `GET /` (the API shares the path: the API routes hand a GET
 * without fields here); `notFound` answers an unknown /console/… path. */
export interface ConsoleHandlers {
  frontDoor: PageHandler;
  notFound: PageHandler;
}

export function registerConsole(
  app: FastifyInstance,
  context: PlatformContext,
  options: { production: boolean },
): ConsoleHandlers {
  const settings: ConsoleSettings = { context, secureCookies: options.production, sandbox: !options.production };
  const frontDoor = async (request: FastifyRequest, reply: FastifyReply) => {
    const consoleRequest = await consoleRequestOf(settings, request, reply);
    const { t } = consoleRequest;
    return page(
      reply,
      consoleRequest,
      t('welcome'),
      html`<p>${t('welcomeIntro')}</p>
<ul><li><a href="/console/sign-in">${t('signInTitle')}</a></li>
<li><a href="https://github.com/kassa-payments/kassa#readme">${t('docs')}</a> (README, docs/errors.md)</li></ul>`,
      { narrow: true },
    );
  };
  void app.register(async (scope) => {
    scope.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
      context.logger.error(
        { failure: { message: error.message, stack: error.stack }, url: request.url },
        'console page failed',
      );
      const t = translatorFor('en');
      // A body the parsers refuse is the sender's mistake; anything else ours. Neither is a 500 page.
      const statusCode = error.statusCode === 400 || String(error.code ?? '').startsWith('FST_') ? 400 : 503;
      return sendConsolePage(reply, {
        title: t('errorTitle'),
        language: 'en',
        translate: t,
        path: '/console',
        statusCode,
        body: html`<p>${t('errorText')}</p><p><a href="/console/start">${t('start')}</a></p>`,
      });
    });
    // A NUL character is never part of a real field, and PostgreSQL refuses it in text: such a
    // request is answered as bad input before any handler reads the database.
    scope.addHook('preHandler', async (request, reply) => {
      if (!hasNul(request.url) && !hasNul(request.body)) return;
      const t = translatorFor('en');
      return sendConsolePage(reply, {
        title: t('badInput'),
        language: 'en',
        translate: t,
        path: '/console',
        statusCode: 400,
        body: html`<p><a href="/console/start">${t('start')}</a></p>`,
      });
    });
    registerSignIn(scope, settings);
    scope.get('/console/start', (request, reply) => startPage(settings, request, reply));
    registerPaymentPages(scope, settings);
    registerMerchantPages(scope, settings);
    registerAdministrationPages(scope, settings);
    registerSignaturePage(scope, settings);
    registerRoutingPages(scope, settings);
  });
  // The platform's not-found handler hands /console/… here: a page, not the API's JSON.
  const notFound = async (request: FastifyRequest, reply: FastifyReply) => {
    const consoleRequest = await consoleRequestOf(settings, request, reply);
    return messagePage(reply, consoleRequest, 404, consoleRequest.t('notFound'));
  };
  return { frontDoor, notFound };
}

function registerSignIn(scope: FastifyInstance, settings: ConsoleSettings): void {
  scope.get('/console', async (request, reply) => {
    const consoleRequest = await consoleRequestOf(settings, request, reply);
    return reply
      .code(303)
      .header('location', consoleRequest.session ? '/console/start' : '/console/sign-in')
      .send();
  });
  scope.get('/console/sign-in', async (request, reply) => {
    const consoleRequest = await consoleRequestOf(settings, request, reply);
    if (consoleRequest.session) return reply.code(303).header('location', '/console/start').send();
    const message = queryField(request, 'ended') ? consoleRequest.t('sessionEnded') : undefined;
    return signInPage(settings, reply, consoleRequest, { message });
  });
  scope.post('/console/sign-in', async (request, reply) => {
    const consoleRequest = await consoleRequestOf(settings, request, reply);
    const { t } = consoleRequest;
    const email = formField(request.body, 'email');
    if (!signInTokenMatches(request))
      return signInPage(settings, reply, consoleRequest, { email, error: t('formExpired'), statusCode: 403 });
    const result = await signIn(settings.context, email, formField(request.body, 'password'), request.ip);
    if (!result.ok) {
      const error =
        result.reason === 'throttled'
          ? t('throttled', { time: new Date(result.retryAtMs).toISOString().slice(11, 16) + ' UTC' })
          : t('wrongSignIn');
      return signInPage(settings, reply, consoleRequest, {
        email,
        error,
        statusCode: result.reason === 'throttled' ? 429 : 401,
      });
    }
    reply.header('set-cookie', [
      cookie(sessionCookie, result.token, { secure: settings.secureCookies }),
      cookie(signInCookie, '', { secure: settings.secureCookies, maxAgeSeconds: 0 }),
    ]);
    return reply.code(303).header('location', '/console/start').send();
  });
  scope.post('/console/sign-out', async (request, reply) => {
    const consoleRequest = await guarded(settings, request, reply);
    if (!consoleRequest) return reply;
    await signOut(settings.context, consoleRequest.session);
    reply.header('set-cookie', cookie(sessionCookie, '', { secure: settings.secureCookies, maxAgeSeconds: 0 }));
    return reply.code(303).header('location', '/console/sign-in').send();
  });
}

function signInPage(
  settings: ConsoleSettings,
  reply: FastifyReply,
  consoleRequest: Awaited<ReturnType<typeof consoleRequestOf>>,
  state: { email?: string; error?: string; message?: string; statusCode?: number },
): FastifyReply {
  const { t } = consoleRequest;
  const token = newSignInToken();
  reply.header('set-cookie', cookie(signInCookie, token, { secure: settings.secureCookies, maxAgeSeconds: 3600 }));
  return page(
    reply,
    consoleRequest,
    t('signInTitle'),
    html`${notice('bad', state.error)}${notice('ok', state.message)}
<form method="post" action="/console/sign-in">
${csrfInput(token)}
${field({
  name: 'email',
  label: t('email'),
  type: 'email',
  value: state.email,
  required: true,
  autocomplete: 'username',
})}
${field({ name: 'password', label: t('password'), type: 'password', required: true, autocomplete: 'current-password' })}
<p><button type="submit">${t('signIn')}</button></p>
</form>`,
    { narrow: true, statusCode: state.statusCode },
  );
}

async function startPage(
  settings: ConsoleSettings,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const consoleRequest = await guarded(settings, request, reply);
  if (!consoleRequest) return reply;
  const { t } = consoleRequest;
  const today = await todayOf(settings.context, consoleRequest.session.user);
  const rate = today.approvalRate === undefined ? '—' : `${(today.approvalRate * 100).toFixed(1)} %`;
  return page(
    reply,
    consoleRequest,
    t('start'),
    html`<h2>${t('todayFigures', { day: today.day })}</h2>
<dl class="figures">
<div><dt>${t('payments')}</dt><dd>${today.total}</dd></div>
<div><dt>${t('approvalRate')}</dt><dd>${rate}</dd></div>
<div><dt>${t('failedCallbacks')}</dt><dd>${today.failedCallbacks}</dd></div>
<div><dt>${t('blockedUrls')}</dt><dd>${today.blockedUrls}</dd></div>
<div><dt>${t('awaitingReconciliation')}</dt><dd>${today.awaitingReconciliation}</dd></div>
</dl>
<h2>${t('volume')}</h2>
${
  today.volume.length === 0
    ? html`<p>${t('noPayments')}</p>`
    : html`<table><thead><tr><th scope="col">${t('amount')}</th></tr></thead><tbody>${today.volume.map(
        (row) => html`<tr><td>${formatAmount(row.capturedMinor, row.currency)} ${row.currency}</td></tr>`,
      )}</tbody></table>`
}
<h2>${t('status')}</h2>
<table><thead><tr><th scope="col">${t('status')}</th><th scope="col">${t('count')}</th></tr></thead>
<tbody>${today.byStatus.map(
      (row) =>
        html`<tr><td><a href="/console/payments?status=${row.status}">${row.status}</a></td><td>${row.count}</td></tr>`,
    )}</tbody></table>`,
  );
}

function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000') || /%00/.test(value);
  if (value && typeof value === 'object')
    return Object.values(value).some((field) => typeof field === 'string' && field.includes('\u0000'));
  return false;
}
