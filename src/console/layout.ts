import type { FastifyReply } from 'fastify';
import { html, newNonce, SafeHtml } from '../http/pages/html.ts';
import { may, type ConsoleUser, type Permission } from '../operations/console-accounts.ts';
import {
  consoleLanguageNames,
  consoleLanguages,
  type ConsoleKey,
  type ConsoleLanguage,
  type Translate,
} from './i18n.ts';

/**
 * The console's page shell: navigation by role, language links, a strict nonce CSP, no framing.
 * Colours are chosen for contrast on white: text ≥ 4.5:1 (ink 15.5:1, muted 7.9:1, accent 7.0:1,
 * danger 6.6:1) and control borders ≥ 3:1 (#6b7385, 4.8:1) — see docs/adr/0083.
 */
const styles = `
:root { color-scheme: light; --ink: #1d2433; --muted: #4a5163; --line: #d9deea; --control: #6b7385; --accent: #1a56b0;
  --danger: #b42318; --ok: #176639; --bar: #16213a; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
  background: #f3f5f9; }
a { color: var(--accent); }
.skip { position: absolute; left: -999px; top: 0; background: #fff; padding: 8px; }
.skip:focus { left: 8px; }
header.bar { background: var(--bar); color: #fff; padding: 8px 16px; display: flex; flex-wrap: wrap; gap: 8px 16px;
  align-items: center; }
header.bar a, header.bar button { color: #fff; }
header.bar .brand { font-weight: 700; text-decoration: none; margin-right: auto; }
nav ul { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 0; padding: 0; }
nav a[aria-current=page] { font-weight: 700; text-decoration-thickness: 3px; }
.who { font-size: .9rem; display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
.who button { background: transparent; border: 1px solid #fff; border-radius: 6px; padding: 2px 10px; font: inherit;
  cursor: pointer; }
main { max-width: 1100px; margin: 16px auto; padding: 16px 20px; background: #fff; border: 1px solid var(--line);
  border-radius: 10px; }
main.narrow { max-width: 440px; }
h1 { font-size: 1.4rem; margin: 0 0 12px; } h2 { font-size: 1.15rem; margin: 24px 0 8px; }
table { border-collapse: collapse; width: 100%; font-size: .95rem; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top;
  overflow-wrap: anywhere; }
th { color: var(--muted); font-weight: 600; }
table.audit td:nth-child(-n+3) { min-width: 8.5em; }
.scroll { overflow-x: auto; }
form.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 8px 16px;
  align-items: end; }
label { display: block; font-weight: 600; margin: 10px 0 4px; }
input[type=text], input[type=email], input[type=password], input[type=url], input[type=number], select, textarea {
  width: 100%; font: inherit; padding: 8px 10px; border: 1px solid var(--control); border-radius: 6px;
  background: #fff; color: var(--ink); }
textarea { min-height: 5em; font-family: ui-monospace, monospace; font-size: .9rem; }
input[aria-invalid=true], textarea[aria-invalid=true] { border: 2px solid var(--danger); }
:focus-visible { outline: 3px solid #1a56b0; outline-offset: 2px; }
header.bar :focus-visible { outline-color: #fff; }
button { font: inherit; padding: 8px 16px; border-radius: 6px; border: 1px solid var(--accent); cursor: pointer;
  background: var(--accent); color: #fff; }
button.secondary { background: #fff; color: var(--accent); }
button.danger { background: var(--danger); border-color: var(--danger); }
.inline { display: inline-flex; flex-wrap: wrap; gap: 8px; align-items: end; margin: 4px 0; }
.inline label { margin: 0 0 4px; }
.field-error { color: var(--danger); font-weight: 600; margin: 4px 0 0; }
.notice { border-radius: 8px; padding: 8px 12px; margin: 8px 0 12px; font-weight: 600; }
.notice.ok { background: #e6f4ea; color: var(--ok); border: 1px solid #9bd1ad; }
.notice.bad { background: #fdecea; color: var(--danger); border: 1px solid #f1a9a0; }
.secret { font-family: ui-monospace, monospace; font-size: 1.1rem; background: #fff8e1; border: 1px dashed #8a5a00;
  padding: 8px; overflow-wrap: anywhere; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 12px; margin: 0; }
.figures div { border: 1px solid var(--line); border-radius: 8px; padding: 10px; }
.figures dt { color: var(--muted); font-size: .9rem; } .figures dd { margin: 0; font-size: 1.3rem; font-weight: 700; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.languages { display: flex; gap: 6px; font-size: .85rem; }
.nowrap { display: inline-block; }
/* Routing's many-column tables scroll inside their box on a phone rather than break words. */
table.wide { min-width: 40rem; } table.wide td, table.wide th { overflow-wrap: normal; }
table.wide td.mono { overflow-wrap: anywhere; }
code, .mono { font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
@media (max-width: 600px) {
  dl.facts { grid-template-columns: 1fr; gap: 0; } dl.facts dd { margin-bottom: 6px; }
  main { margin: 0; border-radius: 0; border-width: 0; padding: 12px;
  } th, td { padding: 4px; } }
`;

export interface ConsolePage {
  title: string;
  language: ConsoleLanguage;
  translate: Translate;
  body: SafeHtml;
  /** Absent on pages for people not signed in. */
  user?: ConsoleUser;
  csrfToken?: string;
  /** The path (with query) of this page, for the language links. */
  path: string;
  narrow?: boolean;
  statusCode?: number;
}

const navigation: {
  key: ConsoleKey;
  path: string;
  needs?: Permission;
  operatorsOnly?: boolean;
  merchantsOnly?: boolean;
}[] = [
  { key: 'start', path: '/console/start' },
  { key: 'payments', path: '/console/payments' },
  { key: 'merchants', path: '/console/merchants', operatorsOnly: true },
  { key: 'blockedUrls', path: '/console/blocked-urls', operatorsOnly: true },
  { key: 'lockouts', path: '/console/lockouts', operatorsOnly: true },
  { key: 'chargebacks', path: '/console/chargebacks', operatorsOnly: true },
  { key: 'refundApplications', path: '/console/refund-applications', operatorsOnly: true },
  { key: 'schedules', path: '/console/schedules', operatorsOnly: true },
  { key: 'routing', path: '/console/routing', operatorsOnly: true },
  { key: 'credentials', path: '/console/credentials', merchantsOnly: true },
  { key: 'signature', path: '/console/signature', needs: 'explainSignature' },
  { key: 'audit', path: '/console/audit', needs: 'readAudit' },
  { key: 'clock', path: '/console/clock', needs: 'moveClock' },
];

function withLanguage(path: string, language: string): string {
  const url = new URL(path, 'http://console');
  url.searchParams.set('lang', language);
  return `${url.pathname}${url.search}`;
}

function headerOf(page: ConsolePage): SafeHtml {
  const { user, translate: t } = page;
  const current = new URL(page.path, 'http://console').pathname;
  const links = user
    ? navigation.filter(
        (item) =>
          (!item.needs || may(user.role, item.needs))
          && (!item.operatorsOnly || user.role !== 'merchant')
          && (!item.merchantsOnly || user.role === 'merchant'),
      )
    : [];
  return html`<header class="bar">
<a class="brand" href="${user ? '/console/start' : '/'}">${t('console')}</a>
${
  links.length > 0
    ? html`<nav aria-label="${t('mainNavigation')}"><ul>${links.map(
        (item) =>
          html`<li><a href="${item.path}"${
            current.startsWith(item.path) ? new SafeHtml(' aria-current="page"') : ''
          }>${t(item.key)}</a></li>`,
      )}</ul></nav>`
    : ''
}
<div class="who">
<span class="languages" role="group" aria-label="${t('language')}">${consoleLanguages.map(
    (language) =>
      html`<a lang="${language}" href="${withLanguage(
        page.path,
        language,
      )}"${language === page.language ? new SafeHtml(' aria-current="true"') : ''}>${consoleLanguageNames[language]}
</a>`,
  )}</span>
${
  user
    ? html`<span>${t('signedInAs', { email: user.email, role: user.role })}</span>
<form method="post" action="/console/sign-out"><input type="hidden" name="csrf" value="${page.csrfToken}">
<button type="submit">${t('signOut')}</button></form>`
    : ''
}
</div>
</header>`;
}

export function sendConsolePage(reply: FastifyReply, page: ConsolePage): FastifyReply {
  const nonce = newNonce();
  reply
    .code(page.statusCode ?? 200)
    .header('content-type', 'text/html; charset=utf-8')
    .header(
      'content-security-policy',
      `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; img-src data:; `
        + "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    )
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store');
  const document = html`<!doctype html>
<html lang="${page.language}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${page.title} — ${page.translate('console')}</title>
<style nonce="${nonce}">${new SafeHtml(styles)}</style>
</head>
<body>
<a class="skip" href="#content">${page.title}</a>
${headerOf(page)}
<main id="content" tabindex="-1"${page.narrow ? new SafeHtml(' class="narrow"') : ''}>
<h1>${page.title}</h1>
${page.body}
</main>
</body>
</html>`;
  return reply.send(document.text);
}

/** A labelled input with its error beside it (aria-describedby), as every console form shows. */
export function field(options: {
  name: string;
  label: string;
  value?: string;
  type?: string;
  error?: string;
  required?: boolean;
  autocomplete?: string;
  multiline?: boolean;
  /** When one page has two fields of the same name (two amount forms). */
  id?: string;
}): SafeHtml {
  const id = options.id ?? `field-${options.name}`;
  const describedBy = options.error ? new SafeHtml(` aria-invalid="true" aria-describedby="${id}-error"`) : '';
  const required = options.required ? new SafeHtml(' required') : '';
  const autocomplete = options.autocomplete ? html` autocomplete="${options.autocomplete}"` : '';
  const control = options.multiline
    ? html`<textarea id="${id}" name="${options.name}"${describedBy}${required}>${options.value ?? ''}</textarea>`
    : html`<input id="${id}" name="${options.name}" type="${options.type ?? 'text'}" value="${options.value ?? ''}"${
        describedBy
      }${required}${autocomplete}>`;
  return html`<div><label for="${id}">${options.label}</label>${control}${
    options.error ? html`<p class="field-error" id="${id}-error">${options.error}</p>` : ''
  }</div>`;
}

export function notice(kind: 'ok' | 'bad', text: string | undefined): SafeHtml | '' {
  return text ? html`<p class="notice ${kind}" role="${kind === 'ok' ? 'status' : 'alert'}">${text}</p>` : '';
}

export function csrfInput(token: string | undefined): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${token ?? ''}">`;
}
