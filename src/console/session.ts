import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { html, type SafeHtml } from '../http/pages/html.ts';
import {
  csrfMatches,
  may,
  resolveSession,
  type ConsoleSession,
  type Permission,
} from '../operations/console-accounts.ts';
import type { PlatformContext } from '../operations/context.ts';
import { chooseConsoleLanguage, translatorFor, type ConsoleLanguage, type Translate } from './i18n.ts';
import { sendConsolePage } from './layout.ts';

/** Cookies, sessions and guards of the console's routes (docs/adr/0080). */

export const sessionCookie = 'kassa_console';
export const signInCookie = 'kassa_console_sign_in';
export const languageCookie = 'kassa_console_lang';

export function cookiesOf(request: FastifyRequest): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const part of String(request.headers.cookie ?? '')
    .split(';')
    .slice(0, 50)) {
    const index = part.indexOf('=');
    if (index > 0) cookies[part.slice(0, index).trim()] = part.slice(index + 1).trim();
  }
  return cookies;
}

/** HttpOnly, SameSite=Strict, scoped to /console; Secure in production (docs/adr/0080). */
export function cookie(
  name: string,
  value: string,
  options: { secure: boolean; maxAgeSeconds?: number; path?: string },
): string {
  const parts = [`${name}=${value}`, `Path=${options.path ?? '/console'}`, 'HttpOnly', 'SameSite=Strict'];
  if (options.maxAgeSeconds !== undefined) parts.push(`Max-Age=${options.maxAgeSeconds}`);
  if (options.secure) parts.push('Secure');
  return parts.join('; ');
}

/** One form field as text: a missing, repeated or nested field reads as ''. */
export function formField(body: unknown, name: string): string {
  const value = body && typeof body === 'object' ? (body as Record<string, unknown>)[name] : undefined;
  return typeof value === 'string' ? value.slice(0, 10_000) : '';
}

export function queryField(request: FastifyRequest, name: string): string {
  return formField(request.query, name);
}

export interface ConsoleRequest {
  language: ConsoleLanguage;
  t: Translate;
  /** This page's path and query, for the language links. */
  path: string;
  session?: ConsoleSession;
}

export interface ConsoleSettings {
  context: PlatformContext;
  /** Production: cookies are Secure (the console is served over HTTPS there). */
  secureCookies: boolean;
  sandbox: boolean;
}

export async function consoleRequestOf(
  settings: ConsoleSettings,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<ConsoleRequest> {
  const cookies = cookiesOf(request);
  const explicit = queryField(request, 'lang');
  const language = chooseConsoleLanguage(explicit, cookies[languageCookie], request.headers['accept-language']);
  if (explicit === language) {
    reply.header(
      'set-cookie',
      cookie(languageCookie, language, { secure: settings.secureCookies, maxAgeSeconds: 31_536_000, path: '/' }),
    );
  }
  const session = await resolveSession(settings.context, cookies[sessionCookie]);
  const url = new URL(request.url, 'http://console');
  url.searchParams.delete('lang');
  return { language, t: translatorFor(language), path: `${url.pathname}${url.search}`, session };
}

/** Sends a page in the shell with this request's language and user. */
export function page(
  reply: FastifyReply,
  consoleRequest: ConsoleRequest,
  title: string,
  body: SafeHtml,
  options: { statusCode?: number; narrow?: boolean } = {},
): FastifyReply {
  return sendConsolePage(reply, {
    title,
    body,
    language: consoleRequest.language,
    translate: consoleRequest.t,
    path: consoleRequest.path,
    user: consoleRequest.session?.user,
    csrfToken: consoleRequest.session?.csrfToken,
    ...options,
  });
}

export function signInRedirect(reply: FastifyReply, ended = false): FastifyReply {
  return reply
    .code(303)
    .header('location', `/console/sign-in${ended ? '?ended=1' : ''}`)
    .send();
}

export function messagePage(
  reply: FastifyReply,
  consoleRequest: ConsoleRequest,
  statusCode: number,
  text: string,
): FastifyReply {
  return page(reply, consoleRequest, text, html`<p><a href="/console/start">${consoleRequest.t('start')}</a></p>`, {
    statusCode,
  });
}

/**
 * The guard of every page and action: a live session (else to sign-in), the permission (else
 * 403), and for a POST the session's CSRF token in the form (else 403, nothing changed).
 */
export async function guarded(
  settings: ConsoleSettings,
  request: FastifyRequest,
  reply: FastifyReply,
  permission?: Permission,
): Promise<(ConsoleRequest & { session: ConsoleSession }) | undefined> {
  const consoleRequest = await consoleRequestOf(settings, request, reply);
  const session = consoleRequest.session;
  if (!session) {
    if (request.method === 'POST') messagePage(reply, consoleRequest, 403, consoleRequest.t('sessionEnded'));
    else signInRedirect(reply, cookiesOf(request)[sessionCookie] !== undefined);
    return undefined;
  }
  if (request.method === 'POST' && !csrfMatches(session, formField(request.body, 'csrf'))) {
    messagePage(reply, consoleRequest, 403, consoleRequest.t('formExpired'));
    return undefined;
  }
  if (permission && !may(session.user.role, permission)) {
    messagePage(reply, consoleRequest, 403, consoleRequest.t('forbidden'));
    return undefined;
  }
  return { ...consoleRequest, session };
}

/** Pages only operators see (merchant users get 404, as for anything not theirs). */
export function operatorsOnly(
  reply: FastifyReply,
  consoleRequest: ConsoleRequest & { session: ConsoleSession },
): boolean {
  if (consoleRequest.session.user.role !== 'merchant') return true;
  messagePage(reply, consoleRequest, 404, consoleRequest.t('notFound'));
  return false;
}

/** The sign-in form's CSRF defence before any session exists: a random value in a cookie that
 * the form repeats (double submit); SameSite=Strict keeps other sites from sending the cookie. */
export function newSignInToken(): string {
  return randomBytes(24).toString('base64url');
}

export function signInTokenMatches(request: FastifyRequest): boolean {
  const expected = Buffer.from(cookiesOf(request)[signInCookie] ?? '');
  const given = Buffer.from(formField(request.body, 'csrf'));
  return expected.length >= 32 && expected.length === given.length && timingSafeEqual(expected, given);
}
