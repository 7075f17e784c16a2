import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';

/** Text that is already HTML (made by `html` itself). Anything else is escaped. */
export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (character) => escapes[character]);
}

function render(value: unknown): string {
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(value);
}

/** Every interpolated value is escaped unless it is SafeHtml: merchant-supplied text (order
 * description, descriptor, names) can never become markup. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let text = strings[0];
  for (let index = 0; index < values.length; index += 1) text += render(values[index]) + strings[index + 1];
  return new SafeHtml(text);
}

export function newNonce(): string {
  return randomBytes(16).toString('base64');
}

const styles = `
:root { color-scheme: light; --ink: #1d2433; --muted: #5b6478; --line: #d9deea; --control: #6b7385; --accent: #1f5fbf; --danger: #b42318; --test: #8a5a00; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #f3f5f9; }
main { max-width: 440px; margin: 24px auto; padding: 24px; background: #fff; border: 1px solid var(--line); border-radius: 12px; }
header { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: center; gap: 8px 12px; margin-bottom: 16px; }
h1 { font-size: 1.25rem; margin: 0; }
.bank { font-weight: 600; color: var(--accent); }
.test-mode { background: #fff4d6; color: var(--test); border: 1px solid #f0d48a; border-radius: 8px; padding: 8px 12px; font-size: .9rem; margin: 12px 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 16px 0; }
dt { color: var(--muted); } dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
label { display: block; font-weight: 600; margin: 16px 0 6px; }
/* Control borders: #6b7385 is 4.8:1 on white (WCAG 1.4.11 asks 3:1; --line, 1.35:1, is for decoration only). */
input[type=text] { width: 100%; font-size: 1.4rem; letter-spacing: .3em; padding: 10px 12px; border: 1px solid var(--control); border-radius: 8px; }
input:focus-visible, button:focus-visible, a:focus-visible { outline: 3px solid #8fb3ef; outline-offset: 2px; }
.error { color: var(--danger); font-weight: 600; margin: 8px 0 0; }
input[aria-invalid=true] { border-color: var(--danger); border-width: 2px; }
.actions { display: flex; gap: 12px; margin-top: 20px; }
button { font: inherit; padding: 10px 18px; border-radius: 8px; border: 1px solid var(--accent); cursor: pointer; }
button.primary { background: var(--accent); color: #fff; flex: 1; }
button.secondary { background: #fff; color: var(--accent); }
.languages { display: flex; flex-wrap: wrap; gap: 4px; }
.languages button, .languages a { font-size: .8rem; padding: 2px 6px; border: 1px solid var(--control); border-radius: 6px; background: #fff; color: var(--muted); text-decoration: none; }
.languages [aria-current=true] { border-color: var(--accent); color: var(--accent); }
.note { color: var(--muted); font-size: .9rem; }
a.button { display: inline-block; background: var(--accent); color: #fff; padding: 10px 18px; border-radius: 8px; text-decoration: none; }
a.button.secondary { background: #fff; color: var(--accent); border: 1px solid var(--accent); }
@media (max-width: 480px) { main { margin: 0; border-radius: 0; border-width: 0 0 1px; } }
`;

export interface PageOptions {
  title: string;
  lang: string;
  body: SafeHtml;
  /** Inline script (nonce'd): only for auto-submitting forms, never needed to use the page. */
  script?: string;
  /** Extra origins forms on this page may post to. */
  formTargets?: string[];
  /** `<meta http-equiv=refresh>` for browsers without JavaScript, placed in <noscript>. */
  refreshTo?: string;
  /** Origins that may frame the page. Absent: any (issuer pages live in merchants' iframes);
   * empty: none (`frame-ancestors 'none'`), the hosted payment page's default. */
  frameAncestors?: string[];
  /** Page-specific CSS, under the same nonce as the shared styles. */
  extraStyles?: string;
}

/**
 * Sends a complete page with a strict, nonce-based Content-Security-Policy: no third-party
 * anything, no inline code but ours. Emulated issuer pages may be framed (3-D Secure windows
 * live in merchants' iframes), so frame-ancestors stays open there.
 */
export function sendPage(reply: FastifyReply, statusCode: number, options: PageOptions): FastifyReply {
  const nonce = newNonce();
  const formAction = ["'self'", ...(options.formTargets ?? [])].join(' ');
  const frameAncestors = options.frameAncestors === undefined ? '*'
    : options.frameAncestors.length === 0 ? "'none'" : options.frameAncestors.join(' ');
  reply
    .code(statusCode)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy',
      `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; img-src data:; form-action ${formAction}; base-uri 'none'; frame-ancestors ${frameAncestors}`)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store');
  const page = html`<!doctype html>
<html lang="${options.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title}</title>
<style nonce="${nonce}">${new SafeHtml(styles + (options.extraStyles ?? ''))}</style>
${options.refreshTo ? html`<noscript><meta http-equiv="refresh" content="0;url=${options.refreshTo}"></noscript>` : ''}
</head>
<body>
${options.body}
${options.script ? html`<script nonce="${nonce}">${new SafeHtml(options.script)}</script>` : ''}
</body>
</html>`;
  return reply.send(page.text);
}
