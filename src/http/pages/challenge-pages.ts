import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatAmount } from '../../domain/money.ts';
import {
  ChallengePageError, checkOneTimeCode, endBankChallenge, endChallenge, waitingPayment, type ChallengeEndView, type WaitingPaymentView,
} from '../../operations/challenge-page.ts';
import { paResOf, readPaRes, termUrlOf, transIdFromPaReq } from '../../operations/challenge-links.ts';
import type { PlatformContext } from '../../operations/context.ts';
import { protocolErrors } from '../../protocol/errors.ts';
import { formFieldsOf, isBodyParsingError, textField } from '../form-body.ts';
import { html, sendPage, type SafeHtml } from './html.ts';
import { chooseLanguage, languageNames, languages, translate, type Language, type MessageKey } from './i18n.ts';

type Fields = Record<string, unknown>;
const fieldsOf = formFieldsOf;
const text = textField;

function languageOf(request: FastifyRequest, fields: Fields = {}): Language {
  const query = request.query as Record<string, unknown> | undefined;
  return chooseLanguage(fields.lang ?? query?.lang, request.headers['accept-language']);
}

/** "+7 *** ** 47": enough for the cardholder to recognise the phone, not enough to read it.
 * Undefined when there is no phone to speak of: the page then does not name one. */
export function maskPhone(phone: string): string | undefined {
  const digits = phone.replace(/\D/g, '');
  if (digits.length < 4) return undefined;
  return `+${digits[0]} *** ** ${digits.slice(-2)}`;
}

/** How the page that refuses can be seen in another language: the same request again (a POST
 * re-posts its fields with another `lang`; a replayed TermUrl stays refused, idempotently). */
interface Resubmit {
  action: string;
  fields: Record<string, string>;
}

class PageError extends Error {
  constructor(
    readonly messageKey: MessageKey, readonly statusCode: number, readonly code?: number,
    readonly returnLink?: { url: string; target: string | null }, readonly resubmit?: Resubmit,
  ) {
    super(messageKey);
  }
}

/** A language switch for a page that answers a POST: one button per language re-posts it. */
function languageForms(language: Language, resubmit: Resubmit): SafeHtml {
  const label = translate(language, 'languageLabel');
  const button = (code: Language) => html`<button type="submit" name="lang" value="${code}" lang="${code}"
 aria-current="${code === language}">${languageNames[code]}</button>`;
  return html`<form class="languages" method="post" action="${resubmit.action}" aria-label="${label}">
${hiddenFields(resubmit.fields)}${languages.map(button)}
</form>`;
}

function errorPage(reply: FastifyReply, language: Language, error: PageError) {
  const protocolLine = error.code === protocolErrors.notInThreeDs.code
    ? `${protocolErrors.notInThreeDs.code}: ${protocolErrors.notInThreeDs.message}` : '';
  const back = error.returnLink;
  return sendPage(reply, error.statusCode, {
    title: translate(language, 'errorTitle'),
    lang: language,
    body: html`<main>
${error.resubmit ? html`<header><span class="bank">${translate(language, 'issuerBank')}</span>
${languageForms(language, error.resubmit)}</header>` : ''}
<h1>${translate(language, 'errorTitle')}</h1><p role="alert">${translate(language, error.messageKey)}</p>
${protocolLine ? html`<p class="note">${protocolLine}</p>` : ''}
${back ? html`<p><a class="button" href="${back.url}" target="${back.target || '_top'}">
${translate(language, 'returnToShop')}</a></p>` : ''}
</main>`,
  });
}

/** The waiting payment as the issuer's and the provider's pages show it. */
interface PaymentView {
  waiting: WaitingPaymentView;
  amount: string;
  /** Masked, or undefined when the merchant sent no usable phone. */
  phone: string | undefined;
}

/** The operation's view, or the readable error page for a link that leads nowhere. */
async function paymentView(
  context: PlatformContext, transId: string, options: { requireChallenge?: boolean } = {},
): Promise<PaymentView> {
  let waiting: WaitingPaymentView;
  try {
    waiting = await waitingPayment(context, transId, options);
  } catch (error) {
    throw pageErrorOf(error);
  }
  return {
    waiting,
    amount: `${formatAmount(waiting.amountMinor, waiting.currency)} ${waiting.currency}`,
    phone: maskPhone(waiting.payerPhone),
  };
}

/** An operation's "no such payment" or "no longer waiting" as the page that says so. */
function pageErrorOf(error: unknown, resubmit?: Resubmit): unknown {
  if (!(error instanceof ChallengePageError)) return error;
  if (error.problem === 'notFound') return new PageError('badLink', 404);
  return new PageError('notWaiting', 409, protocolErrors.notInThreeDs.code, error.returnLink, resubmit);
}

function summary(language: Language, view: PaymentView): SafeHtml {
  return html`<dl>
<dt>${translate(language, 'merchant')}</dt><dd>${view.waiting.merchantName}</dd>
<dt>${translate(language, 'amount')}</dt><dd>${view.amount}</dd>
<dt>${translate(language, 'card')}</dt><dd>${view.waiting.cardMask}</dd>
<dt>${translate(language, 'order')}</dt><dd>${view.waiting.orderDescription}</dd>
</dl>`;
}

function hiddenFields(values: Record<string, string>): SafeHtml {
  return html`${Object.entries(values).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}`;
}

/** The emulated issuer's page: amount, merchant, masked card, SMS hint, code field, Cancel. */
function challengePage(
  reply: FastifyReply, language: Language, view: PaymentView, carried: Record<string, string>, errorKey?: { key: MessageKey; count?: number },
) {
  const switcher = languageForms(language, { action: '/emulator/acs', fields: carried });
  const errorText = errorKey ? translate(language, errorKey.key, { count: errorKey.count ?? 0 }) : '';
  return sendPage(reply, 200, {
    title: translate(language, 'threeDsTitle'),
    lang: language,
    body: html`<main>
<header><span class="bank">${translate(language, 'issuerBank')}</span>${switcher}</header>
<h1>${translate(language, 'threeDsTitle')}</h1>
<p class="test-mode"><strong>${translate(language, 'testMode')}</strong> — ${translate(language, 'testHint', { code: view.waiting.oneTimeCodeHint })}</p>
<p>${view.phone ? translate(language, 'threeDsIntro', { phone: view.phone })
    : translate(language, 'threeDsIntroNoPhone')}</p>
${summary(language, view)}
<form method="post" action="/emulator/acs/verify">
${hiddenFields({ ...carried, lang: language })}
<label for="code">${translate(language, 'codeLabel')}</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="6" autofocus
 aria-describedby="code-error" ${errorText ? html`aria-invalid="true"` : ''}>
<p id="code-error" class="error" role="alert">${errorText}</p>
<div class="actions">
<button type="submit" class="primary" name="decision" value="confirm">${translate(language, 'confirm')}</button>
<button type="submit" class="secondary" name="decision" value="cancel">${translate(language, 'cancel')}</button>
</div>
</form>
<p class="note">${translate(language, 'noSms')}</p>
</main>`,
  });
}

/** Posts a form to `action` at once with JavaScript, or on one click without it. (The hosted
 * payment page sends the cardholder to the emulated issuer with it too.) */
export function autoPostPage(reply: FastifyReply, language: Language, title: string, action: string, values: Record<string, string>, formTarget: string) {
  return sendPage(reply, 200, {
    title,
    lang: language,
    formTargets: [formTarget],
    body: html`<main><h1>${title}</h1>
<form id="next" method="post" action="${action}">${hiddenFields(values)}
<button type="submit" class="primary">${translate(language, 'continue')}</button></form></main>`,
    script: "document.getElementById('next').submit();",
  });
}

/**
 * The last step: the browser goes to exactly the merchant's term_url_3ds (nothing appended), in
 * the browsing context term_url_target names (`_top` by default, as the spec says). A link
 * carries the target; JavaScript clicks it, and without JavaScript a refresh (same context) or
 * the visible link does the job.
 */
function returnPage(reply: FastifyReply, language: Language, end: ChallengeEndView) {
  const target = end.returnTarget || '_top';
  // Pending: the acquirer's answer is not known yet; never say declined.
  const heading = end.outcome === 'approved' ? translate(language, 'paymentSucceeded')
    : end.outcome === 'pending' ? translate(language, 'paymentPending')
    : translate(language, 'paymentDeclined', { reason: end.declineReason ?? '' });
  return sendPage(reply, 200, {
    title: heading,
    lang: language,
    refreshTo: target === '_self' || target === '_top' ? end.returnUrl : undefined,
    body: html`<main><h1>${heading}</h1><p>${translate(language, 'returning')}</p>
<p><a id="back" class="button" href="${end.returnUrl}" target="${target}">${translate(language, 'returnToShop')}</a></p></main>`,
    script: "document.getElementById('back').click();",
  });
}

/** A replayed TermUrl's refusal page switches language by posting the same PaRes again. */
function resubmitOf(request: FastifyRequest, fields: Fields): Resubmit {
  return { action: request.url, fields: { PaRes: text(fields, 'PaRes'), MD: text(fields, 'MD') } };
}

async function finish(
  context: PlatformContext, transId: string, passed: boolean, resubmit?: Resubmit,
): Promise<ChallengeEndView> {
  try {
    return await endChallenge(context, transId, passed);
  } catch (error) {
    throw pageErrorOf(error, resubmit);
  }
}

/** 3-D Secure pass-through: the bank (an upstream platform) sends the cardholder back here
 * (GET or POST), and from here to the merchant's exact term_url_3ds (docs/adr/0093). */
function registerBankReturn(pages: FastifyInstance, context: PlatformContext): void {
  pages.route({
    method: ['GET', 'POST'],
    url: '/return/bank/:transId/:signature',
    handler: async (request, reply) => {
      const { transId, signature } = request.params as { transId: string; signature: string };
      if (!context.vault.verify('bank-return', transId, signature)) throw new PageError('badLink', 400);
      let end: ChallengeEndView;
      try {
        end = await endBankChallenge(context, transId);
      } catch (error) {
        throw pageErrorOf(error);
      }
      return returnPage(reply, languageOf(request, fieldsOf(request)), end);
    },
  });
}

/** Pages answer people: every failure becomes a readable page in their language. */
function answerFailuresWithPages(pages: FastifyInstance): void {
  pages.setErrorHandler((error, request, reply) => {
    const language = languageOf(request, fieldsOf(request)); // a POST's `lang` too
    if (error instanceof PageError) return errorPage(reply, language, error);
    const malformed = isBodyParsingError(error);
    if (!malformed) request.log.error({ error: { message: (error as Error).message } }, 'page failure');
    return errorPage(reply, language, new PageError('badLink', malformed ? 400 : 500));
  });
}

export function registerChallengePages(app: FastifyInstance, context: PlatformContext): void {
  app.register(async (pages) => {
    answerFailuresWithPages(pages);

    /** The emulated issuer (ACS): the merchant's form posts PaReq, MD and TermUrl here. */
    pages.post('/emulator/acs', async (request, reply) => {
      const fields = fieldsOf(request);
      const transId = transIdFromPaReq(context, text(fields, 'PaReq'));
      if (!transId || text(fields, 'TermUrl') !== termUrlOf(context, transId)) throw new PageError('badLink', 400);
      const view = await paymentView(context, transId);
      const carried = { PaReq: text(fields, 'PaReq'), MD: text(fields, 'MD'), TermUrl: text(fields, 'TermUrl') };
      return challengePage(reply, languageOf(request, fields), view, carried);
    });

    pages.post('/emulator/acs/verify', async (request, reply) => {
      const fields = fieldsOf(request);
      const language = languageOf(request, fields);
      const transId = transIdFromPaReq(context, text(fields, 'PaReq'));
      const termUrl = text(fields, 'TermUrl');
      if (!transId || termUrl !== termUrlOf(context, transId)) throw new PageError('badLink', 400);
      const view = await paymentView(context, transId);
      const carried = { PaReq: text(fields, 'PaReq'), MD: text(fields, 'MD'), TermUrl: termUrl };
      let passed = false;
      if (text(fields, 'decision') !== 'cancel') {
        const verdict = await checkOneTimeCode(context, transId, text(fields, 'code'));
        if (verdict.outcome === 'malformed') return challengePage(reply, language, view, carried, { key: 'codeFormat' });
        if (verdict.outcome === 'wrong') {
          return challengePage(reply, language, view, carried, { key: 'wrongCode', count: verdict.attemptsLeft });
        }
        passed = verdict.outcome === 'passed';
      }
      const title = passed ? translate(language, 'codeAccepted') : translate(language, 'authenticationFailed');
      return autoPostPage(reply, language, title, termUrl, { PaRes: paResOf(context, transId, passed), MD: transId, lang: language },
        new URL(termUrl).origin);
    });

    /** The platform's one-time TermUrl: the issuer's answer comes back here. */
    pages.post('/verify/3ds/:transId/:signature', async (request, reply) => {
      const { transId, signature } = request.params as { transId: string; signature: string };
      const fields = fieldsOf(request);
      const language = languageOf(request, fields);
      if (!context.vault.verify('term-url', transId, signature)) throw new PageError('badLink', 400);
      const answer = readPaRes(context, text(fields, 'PaRes'));
      if (!answer || answer.transId !== transId) throw new PageError('badLink', 400);
      return returnPage(reply, language, await finish(context, transId, answer.passed, resubmitOf(request, fields)));
    });

    registerBankReturn(pages, context);

    /** The emulated payment provider page of the REDIRECT test cards. */
    pages.get('/emulator/redirect/:transId/:signature', async (request, reply) => {
      const { transId, signature } = request.params as { transId: string; signature: string };
      const language = languageOf(request);
      if (!context.vault.verify('redirect', transId, signature)) throw new PageError('badLink', 400);
      const view = await paymentView(context, transId, { requireChallenge: true });
      const switcher = html`<nav class="languages" aria-label="${translate(language, 'languageLabel')}">${languages.map((code) =>
        html`<a href="?lang=${code}" lang="${code}" aria-current="${code === language}">${languageNames[code]}</a>`)}</nav>`;
      return sendPage(reply, 200, {
        title: translate(language, 'redirectTitle'),
        lang: language,
        body: html`<main>
<header><span class="bank">${translate(language, 'redirectTitle')}</span>${switcher}</header>
<p class="test-mode"><strong>${translate(language, 'testMode')}</strong></p>
<h1>${translate(language, 'redirectIntro', { merchant: view.waiting.merchantName })}</h1>
${summary(language, view)}
<form method="post">
<input type="hidden" name="lang" value="${language}">
<div class="actions">
<button type="submit" class="primary" name="decision" value="confirm">${translate(language, 'pay', { amount: view.amount })}</button>
<button type="submit" class="secondary" name="decision" value="cancel">${translate(language, 'cancel')}</button>
</div></form></main>`,
      });
    });

    pages.post('/emulator/redirect/:transId/:signature', async (request, reply) => {
      const { transId, signature } = request.params as { transId: string; signature: string };
      const fields = fieldsOf(request);
      if (!context.vault.verify('redirect', transId, signature)) throw new PageError('badLink', 400);
      const end = await finish(context, transId, text(fields, 'decision') === 'confirm');
      return returnPage(reply, languageOf(request, fields), end);
    });
  });
}
