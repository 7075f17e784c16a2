import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { brandNames, checkCardEntry, type CardEntryField, type CardEntryProblem } from '../../domain/card-entry.ts';
import { formatTransDate } from '../../domain/dates.ts';
import { formatAmount } from '../../domain/money.ts';
import {
  CheckoutError, newCheckoutFormToken, openCheckoutPage, payOnCheckoutPage,
  type CheckoutPageView, type CheckoutPaymentView, type DeclineExplanation, type Redirect,
} from '../../operations/checkout-page.ts';
import type { PlatformContext } from '../../operations/context.ts';
import {
  fileRefundApplicationOnPage, openRefundApplication,
  type ApplicationInput, type ApplicationProblems, type RefundApplicationPageView,
} from '../../operations/refund-application-page.ts';
import { formFieldsOf, isBodyParsingError, textField } from '../form-body.ts';
import { autoPostPage } from './challenge-pages.ts';
import { checkoutText, type CheckoutMessageKey } from './checkout-i18n.ts';
import { html, sendPage, type SafeHtml } from './html.ts';
import { chooseLanguage, languageNames, languages, type Language } from './i18n.ts';

type Fields = Record<string, unknown>;
const fieldsOf = formFieldsOf;
const text = textField;

/** `?lang=` or the form's language, then the merchant's choice for the session, then the browser's. */
function languageOf(request: FastifyRequest, fields: Fields, sessionLanguage: string | null = null): Language {
  const query = request.query as Record<string, unknown> | undefined;
  return chooseLanguage(fields.lang ?? query?.lang ?? sessionLanguage ?? undefined, request.headers['accept-language']);
}

const styles = `
form.card label { margin-top: 14px; }
form.card input[type=text], form.card input[type=email], form.card textarea {
  width: 100%; font: inherit; font-size: 1.1rem; letter-spacing: normal; padding: 10px 12px; border: 1px solid var(--line); border-radius: 8px; }
form.card textarea { min-height: 6em; }
form.card input[aria-invalid=true], form.card textarea[aria-invalid=true] { border-color: var(--danger); border-width: 2px; }
.row { display: flex; gap: 12px; } .row > div { flex: 1; min-width: 0; }
.hint { color: var(--muted); font-size: .85rem; margin: 4px 0 0; }
.brand { float: right; font-weight: 600; color: var(--accent); font-size: .9rem; }
.summary { border: 2px solid var(--danger); border-radius: 8px; padding: 8px 12px; margin: 12px 0; }
.summary ul { margin: 4px 0 0; padding-left: 20px; } .summary a { color: var(--danger); }
.banner { background: #fdecea; border: 1px solid #f3b4ae; border-radius: 8px; padding: 8px 12px; }
.ok { color: #0b7a3b; } .declined { color: var(--danger); }
fieldset { border: 0; padding: 0; margin: 16px 0 0; } legend { font-weight: 600; }
fieldset label { font-weight: normal; margin: 6px 0; }
button.primary { width: 100%; margin-top: 20px; font-size: 1.1rem; }
.links { display: flex; flex-direction: column; gap: 10px; margin-top: 20px; }
`;

/**
 * Card-number formatting while typing: groups of four, caret kept in place, the brand shown.
 * Same-page, nonce'd, no third party; the page works the same without it. The brand ranges
 * repeat domain/card.ts's cardBrand for the schemes the page names.
 */
const formattingScript = `(function () {
  var input = document.getElementById('card_number');
  var brand = document.getElementById('card-brand');
  if (!input || !brand) return;
  var template = brand.getAttribute('data-template');
  function detect(digits) {
    var two = Number(digits.slice(0, 2)), four = Number(digits.slice(0, 4));
    if (digits.length === 0) return '';
    if (digits[0] === '4') return 'Visa';
    if (digits.length >= 4 && four >= 2200 && four <= 2204) return 'MIR';
    if ((two >= 51 && two <= 55) || (digits.length >= 4 && four >= 2221 && four <= 2720)) return 'Mastercard';
    if (two === 34 || two === 37) return 'American Express';
    if (two === 62 || two === 81) return 'UnionPay';
    if (digits.length >= 4 && four >= 3528 && four <= 3589) return 'JCB';
    return '';
  }
  function format() {
    var caret = input.selectionStart || 0;
    var digitsBeforeCaret = input.value.slice(0, caret).replace(/\\D/g, '').length;
    var digits = input.value.replace(/\\D/g, '').slice(0, 19);
    var grouped = digits.replace(/(\\d{4})(?=\\d)/g, '$1 ');
    input.value = grouped;
    var position = 0, seen = 0;
    while (position < grouped.length && seen < digitsBeforeCaret) { if (grouped[position] !== ' ') seen += 1; position += 1; }
    input.setSelectionRange(position, position);
    var name = detect(digits);
    brand.textContent = name ? template.replace('{brand}', name) : '';
  }
  input.addEventListener('input', format);
})();`;

function languageSwitcher(language: Language, path: string): SafeHtml {
  return html`<nav class="languages" aria-label="${checkoutText(language, 'languageLabel')}">${languages.map((code) =>
    html`<a href="${path}?lang=${code}" lang="${code}" hreflang="${code}" aria-current="${code === language}">${languageNames[code]}</a>`)}</nav>`;
}

function amountText(amountMinor: number, currency: string): string {
  return `${formatAmount(amountMinor, currency)} ${currency}`;
}

function orderSummary(language: Language, view: CheckoutPageView, payment?: CheckoutPaymentView): SafeHtml {
  return html`<dl>
<dt>${checkoutText(language, 'merchant')}</dt><dd>${view.merchant.descriptor}</dd>
<dt>${checkoutText(language, 'order')}</dt><dd>${view.orderDescription}</dd>
<dt>${checkoutText(language, 'amount')}</dt><dd>${amountText(view.amountMinor, view.currency)}</dd>
${payment ? html`<dt>${checkoutText(language, 'card')}</dt><dd>${payment.cardMask}</dd>
<dt>${checkoutText(language, 'transaction')}</dt><dd>${payment.transId}</dd>` : ''}
</dl>`;
}

interface FormState {
  values: { cardNumber: string; cardholderName: string; expiry: string };
  problems: Partial<Record<CardEntryField, CardEntryProblem>>;
  brand: string;
  banner?: CheckoutMessageKey;
}

const fieldOrder: { field: CardEntryField; id: string }[] = [
  { field: 'cardNumber', id: 'card_number' }, { field: 'cardholderName', id: 'cardholder_name' },
  { field: 'expiry', id: 'expiry' }, { field: 'cvv', id: 'cvv' },
];

function pageFrame(view: CheckoutPageView | undefined) {
  return view?.merchant.frameOrigins ?? [];
}

/** The payment form. Every field has a label, a hint and an error slot tied to it with
 * aria-describedby; the first field in error gets the focus, so keyboard users land on it. */
function paymentForm(reply: FastifyReply, language: Language, view: CheckoutPageView, formToken: string, state: FormState, statusCode = 200) {
  const path = `/pay/${view.sessionId}`;
  const firstInvalid = fieldOrder.find(({ field }) => state.problems[field])?.field;
  const field = (name: CardEntryField, id: string, label: string, options: {
    autocomplete: string; inputmode?: string; hint?: string; value?: string; maxlength: number; extra?: SafeHtml;
  }) => {
    const problem = state.problems[name];
    const describedBy = [options.hint ? `${id}-hint` : '', `${id}-error`].filter(Boolean).join(' ');
    return html`<div>
<label for="${id}">${label}${options.extra ?? ''}</label>
<input type="text" id="${id}" name="${id}" autocomplete="${options.autocomplete}" ${options.inputmode ? html`inputmode="${options.inputmode}"` : ''}
 maxlength="${options.maxlength}" value="${options.value ?? ''}" aria-describedby="${describedBy}" ${problem ? html`aria-invalid="true"` : ''}
 ${firstInvalid === name ? html`autofocus` : ''} spellcheck="false" autocapitalize="${name === 'cardholderName' ? 'characters' : 'off'}">
${options.hint ? html`<p class="hint" id="${id}-hint">${options.hint}</p>` : ''}
<p class="error" id="${id}-error">${problem ? checkoutText(language, problem) : ''}</p>
</div>`;
  };
  const problemList = fieldOrder.filter(({ field: name }) => state.problems[name]);
  const brandLabel = state.brand ? checkoutText(language, 'brandDetected', { brand: state.brand }) : '';
  return sendPage(reply, statusCode, {
    title: `${checkoutText(language, 'payTitle')} — ${view.merchant.descriptor}`,
    lang: language,
    frameAncestors: pageFrame(view),
    extraStyles: styles,
    script: formattingScript,
    body: html`<main>
<header><span class="bank">${view.merchant.descriptor}</span>${languageSwitcher(language, path)}</header>
<h1>${checkoutText(language, 'payTitle')}</h1>
<p class="note">${checkoutText(language, 'securePage')}</p>
${orderSummary(language, view)}
${state.banner ? html`<p class="banner" role="alert">${checkoutText(language, state.banner)}</p>` : ''}
${problemList.length > 0 ? html`<div class="summary" role="alert"><p>${checkoutText(language, 'errorSummary')}</p><ul>${problemList.map(({ field: name, id }) =>
    html`<li><a href="#${id}">${checkoutText(language, state.problems[name]!)}</a></li>`)}</ul></div>` : ''}
<form class="card" method="post" action="${path}" novalidate>
<input type="hidden" name="form_token" value="${formToken}">
<input type="hidden" name="lang" value="${language}">
${field('cardNumber', 'card_number', checkoutText(language, 'cardNumberLabel'), {
    autocomplete: 'cc-number', inputmode: 'numeric', value: state.values.cardNumber, maxlength: 23,
    extra: html` <span class="brand" id="card-brand" aria-live="polite" data-template="${checkoutText(language, 'brandDetected')}">${brandLabel}</span>`,
  })}
${field('cardholderName', 'cardholder_name', checkoutText(language, 'cardholderNameLabel'), {
    autocomplete: 'cc-name', hint: checkoutText(language, 'cardholderNameHint'), value: state.values.cardholderName, maxlength: 64,
  })}
<div class="row">
${field('expiry', 'expiry', checkoutText(language, 'expiryLabel'), {
    autocomplete: 'cc-exp', inputmode: 'numeric', hint: checkoutText(language, 'expiryHint'), value: state.values.expiry, maxlength: 9,
  })}
${field('cvv', 'cvv', checkoutText(language, 'cvvLabel'), {
    autocomplete: 'cc-csc', inputmode: 'numeric', hint: checkoutText(language, 'cvvHint'), maxlength: 4,
  })}
</div>
<button type="submit" class="primary">${checkoutText(language, 'payButton', { amount: amountText(view.amountMinor, view.currency) })}</button>
</form>
<p class="note">${checkoutText(language, 'threeDsNote')}</p>
</main>`,
  });
}

function messagePage(
  reply: FastifyReply, statusCode: number, language: Language, view: CheckoutPageView | undefined,
  title: CheckoutMessageKey, message: CheckoutMessageKey, link?: { href: string; label: string },
) {
  return sendPage(reply, statusCode, {
    title: checkoutText(language, title),
    lang: language,
    frameAncestors: pageFrame(view),
    extraStyles: styles,
    body: html`<main><h1>${checkoutText(language, title)}</h1><p role="alert">${checkoutText(language, message)}</p>
${link ? html`<p><a class="button" href="${link.href}" target="_top">${link.label}</a></p>` : ''}</main>`,
  });
}

/** The words for each kind of refusal; which kind a decline is, the connector says. */
const refusalMessages: Record<DeclineExplanation, CheckoutMessageKey> = {
  notEnabledOnline: 'refusalNotOnline',
  insufficientFunds: 'refusalInsufficientFunds',
  incorrectDetails: 'refusalIncorrectDetails',
  expired: 'refusalExpired',
  cardholderStep: 'refusalThreeDs',
  other: 'refusalOther',
};

/** Which of the seeds' refusal cases a decline is, in the cardholder's words. */
export function refusalMessage(explanation: DeclineExplanation): CheckoutMessageKey {
  return refusalMessages[explanation];
}

/** Automatic reloads of the processing page before it waits for a click instead. */
const processingReloadsMax = 60;

function processingPage(reply: FastifyReply, language: Language, view: CheckoutPageView, reloads: number) {
  const resultPath = `/pay/${view.sessionId}/result`;
  const nextUrl = `${resultPath}?lang=${language}&reload=${reloads + 1}`;
  return sendPage(reply, 200, {
    title: checkoutText(language, 'processingTitle'),
    lang: language,
    frameAncestors: pageFrame(view),
    extraStyles: styles,
    body: html`<main><h1>${checkoutText(language, 'processingTitle')}</h1><p role="status">${checkoutText(language, 'processingText')}</p>
${orderSummary(language, view)}
<p><a class="button" href="${resultPath}?lang=${language}">${checkoutText(language, 'checkStatus')}</a></p></main>`,
    // Bounded: after a minute of reloads the cardholder checks with the link instead.
    script: reloads < processingReloadsMax ? `setTimeout(function () { location.replace(${JSON.stringify(nextUrl)}); }, 1000);` : undefined,
  });
}

/** The payment waits for the cardholder at the issuer (3-D Secure) or the provider page. */
function toIssuer(reply: FastifyReply, language: Language, redirect: Redirect) {
  if (redirect.method === 'GET') return reply.code(303).header('location', `${redirect.url}?lang=${language}`).send();
  return autoPostPage(reply, language, checkoutText(language, 'toBankTitle'), redirect.url, { ...redirect.params, lang: language },
    new URL(redirect.url).origin);
}

function resultPage(reply: FastifyReply, language: Language, view: CheckoutPageView, payment: CheckoutPaymentView) {
  const { merchant, sessionId } = view;
  const approved = payment.approved;
  const amount = amountText(payment.amountMinor, payment.currency);
  const canRetry = !approved && view.status === 'OPEN' && !view.expired;
  const returnUrl = approved ? view.successUrl : view.declineUrl;
  const headline = approved ? 'resultApprovedTitle' : 'resultDeclinedTitle';
  const explanation = approved
    ? checkoutText(language, payment.isAuth ? 'resultAuthorizedText' : 'resultApprovedText', { amount, merchant: merchant.descriptor })
    : checkoutText(language, refusalMessage(payment.declineExplanation));
  return sendPage(reply, 200, {
    title: checkoutText(language, headline),
    lang: language,
    frameAncestors: pageFrame(view),
    extraStyles: styles,
    body: html`<main>
<header><span class="bank">${merchant.descriptor}</span>${languageSwitcher(language, `/pay/${sessionId}/result`)}</header>
<h1 class="${approved ? 'ok' : 'declined'}">${checkoutText(language, headline)}</h1>
<p role="status">${explanation}</p>
${orderSummary(language, view, payment)}
<div class="links">
${canRetry ? html`<a class="button" href="/pay/${sessionId}?lang=${language}">${checkoutText(language, 'tryAgain')}</a>` : ''}
<a class="button" id="return" href="${returnUrl}" target="_top">${checkoutText(language, 'returnToMerchant', { merchant: merchant.descriptor })}</a>
</div>
${payment.refundApplicationPath ? html`<p class="note">${checkoutText(language, 'refundLinkNote')} <a href="${payment.refundApplicationPath}?lang=${language}">${checkoutText(language, 'applyForRefund')}</a></p>` : ''}
</main>`,
  });
}

function showResult(reply: FastifyReply, language: Language, view: CheckoutPageView, reloads = 0) {
  const { payment } = view;
  if (!payment) {
    if (view.status === 'PAYING') return processingPage(reply, language, view, reloads);
    return reply.code(303).header('location', `/pay/${view.sessionId}?lang=${language}`).send();
  }
  if (payment.redirect) return toIssuer(reply, language, payment.redirect);
  if (payment.status === 'PREPARE') return processingPage(reply, language, view, reloads);
  return resultPage(reply, language, view, payment);
}

const emptyForm: FormState = { values: { cardNumber: '', cardholderName: '', expiry: '' }, problems: {}, brand: '' };

export function registerCheckoutPages(app: FastifyInstance, context: PlatformContext): void {
  app.register(async (pages) => {
    // Pages answer people: a failure is a readable page, never a stack trace or JSON.
    pages.setErrorHandler((error, request, reply) => {
      const language = languageOf(request, {});
      if (error instanceof CheckoutError) {
        return messagePage(reply, 404, language, undefined, 'notFoundTitle', 'notFoundText');
      }
      const malformed = isBodyParsingError(error);
      if (!malformed) request.log.error({ error: { message: (error as Error).message } }, 'checkout page failure');
      return messagePage(reply, malformed ? 400 : 500, language, undefined, 'notFoundTitle',
        malformed ? 'notFoundText' : 'serviceError');
    });

    pages.get('/pay/:sessionId', async (request, reply) => {
      const view = await openCheckoutPage(context, (request.params as { sessionId: string }).sessionId);
      const language = languageOf(request, {}, view.language);
      if (view.status !== 'OPEN') return showResult(reply, language, view);
      if (view.expired) return expiredPage(reply, language, view);
      const formToken = await newCheckoutFormToken(context, view.sessionId);
      if (!formToken) return reply.code(303).header('location', `/pay/${view.sessionId}/result?lang=${language}`).send();
      return paymentForm(reply, language, view, formToken, emptyForm);
    });

    pages.post('/pay/:sessionId', async (request, reply) => {
      const fields = fieldsOf(request);
      const view = await openCheckoutPage(context, (request.params as { sessionId: string }).sessionId);
      const language = languageOf(request, fields, view.language);
      const resultPath = `/pay/${view.sessionId}/result?lang=${language}`;
      // A second submission of a form already used (a double click) shows what the first did.
      if (view.status !== 'OPEN') return reply.code(303).header('location', resultPath).send();
      if (view.expired) return expiredPage(reply, language, view);
      const values = { cardNumber: text(fields, 'card_number'), cardholderName: text(fields, 'cardholder_name'), expiry: text(fields, 'expiry') };
      const formToken = text(fields, 'form_token');
      if (formToken === '' || formToken !== view.formToken) {
        return freshForm(context, reply, language, view, { ...emptyForm, values, banner: 'formStale' });
      }
      const check = checkCardEntry({ ...values, cvv: text(fields, 'cvv') });
      if (!check.ok) {
        // The card number is shown again so a typo can be fixed; the CVV never is.
        return paymentForm(reply, language, view, formToken, { values, problems: check.problems, brand: brandNames[check.brand] }, 422);
      }
      const paid = await payOnCheckoutPage(context, view.sessionId, formToken, check.entry, request.ip);
      if (refusalBanners[paid.outcome]) return freshForm(context, reply, language, view, { ...emptyForm, values, banner: refusalBanners[paid.outcome] });
      if (paid.outcome === 'to-issuer') return toIssuer(reply, language, paid.redirect);
      return reply.code(303).header('location', resultPath).send();
    });

    /** Where the issuer's step returns (the payment's term_url_3ds) and where the form leads. */
    pages.get('/pay/:sessionId/result', async (request, reply) => {
      const view = await openCheckoutPage(context, (request.params as { sessionId: string }).sessionId);
      const reloads = Number((request.query as Record<string, unknown>).reload);
      return showResult(reply, languageOf(request, {}, view.language), view, Number.isInteger(reloads) && reloads > 0 ? reloads : 0);
    });

    pages.get('/refund-application/:transId/:signature', async (request, reply) => {
      const { transId, signature } = request.params as { transId: string; signature: string };
      const view = await openRefundApplication(context, transId, signature);
      return applicationForm(reply, languageOf(request, {}), view, undefined, {});
    });

    pages.post('/refund-application/:transId/:signature', async (request, reply) => {
      const { transId, signature } = request.params as { transId: string; signature: string };
      const fields = fieldsOf(request);
      const language = languageOf(request, fields);
      const input: ApplicationInput = {
        kind: text(fields, 'kind'), reason: text(fields, 'reason'), amountText: text(fields, 'amount'), contactEmail: text(fields, 'contact_email'),
      };
      const filed = await fileRefundApplicationOnPage(context, transId, signature, input);
      if (!filed.ok) return applicationForm(reply, language, filed.view, input, filed.problems, 422);
      const { application, view } = filed;
      return sendPage(reply, 200, {
        title: checkoutText(language, 'applicationReceivedTitle'),
        lang: language,
        frameAncestors: view.merchant.frameOrigins,
        extraStyles: styles,
        body: html`<main><h1 class="ok">${checkoutText(language, 'applicationReceivedTitle')}</h1>
<p role="status">${checkoutText(language, 'applicationReceivedText', {
    id: application.applicationId, date: formatTransDate(application.receivedAtMs, context.timeZone),
    deadline: application.deadlineDate, card: view.cardMask,
  })}</p>
<dl><dt>${checkoutText(language, 'merchant')}</dt><dd>${view.merchant.descriptor}</dd>
<dt>${checkoutText(language, 'amount')}</dt><dd>${amountText(application.amountMinor, application.currency)}</dd>
<dt>${checkoutText(language, 'reasonLabel')}</dt><dd>${application.reason}</dd></dl>
<p class="note">${checkoutText(language, 'documentsNote')}</p></main>`,
      });
    });
  });
}

function expiredPage(reply: FastifyReply, language: Language, view: CheckoutPageView) {
  return messagePage(reply, 410, language, view, 'expiredTitle', 'expiredText',
    { href: view.declineUrl, label: checkoutText(language, 'returnToMerchant', { merchant: view.merchant.descriptor }) });
}

/** The form again with a new one-time token (409), or the result page if it may not pay now. */
/** Attempts that charged nothing and show the form again, with the banner saying why. */
const refusalBanners: Partial<Record<string, CheckoutMessageKey>> = {
  'order-busy': 'orderBusy', 'not-accepted': 'cardNotAccepted',
};

async function freshForm(context: PlatformContext, reply: FastifyReply, language: Language, view: CheckoutPageView, state: FormState) {
  const fresh = await newCheckoutFormToken(context, view.sessionId);
  if (!fresh) return reply.code(303).header('location', `/pay/${view.sessionId}/result?lang=${language}`).send();
  return paymentForm(reply, language, view, fresh, state, 409);
}

const applicationFieldIds: Record<keyof ApplicationInput, string> = { kind: 'kind-return', reason: 'reason', amountText: 'amount', contactEmail: 'contact_email' };

function applicationForm(
  reply: FastifyReply, language: Language, view: RefundApplicationPageView,
  input: ApplicationInput | undefined, problems: ApplicationProblems, statusCode = 200,
) {
  const { merchant, refundableMinor: refundable, applications: existing, path } = view;
  const refundableText = amountText(refundable, view.currency);
  const problemText = (name: keyof ApplicationInput) => problems[name] ? checkoutText(language, problems[name]!, { amount: refundableText }) : '';
  const invalid = (name: keyof ApplicationInput) => (problems[name] ? html`aria-invalid="true"` : '');
  const firstInvalid = (['kind', 'reason', 'amountText', 'contactEmail'] as const).find((name) => problems[name]);
  const focus = (name: keyof ApplicationInput) => (firstInvalid === name ? html`autofocus` : '');
  const kind = input?.kind ?? '';
  const problemNames = (Object.keys(problems) as (keyof ApplicationInput)[]);
  return sendPage(reply, statusCode, {
    title: checkoutText(language, 'refundTitle'),
    lang: language,
    frameAncestors: merchant.frameOrigins,
    extraStyles: styles,
    body: html`<main>
<header><span class="bank">${merchant.descriptor}</span>${languageSwitcher(language, path)}</header>
<h1>${checkoutText(language, 'refundTitle')}</h1>
<p>${checkoutText(language, 'refundIntro', { days: merchant.refundDays })}</p>
<dl>
<dt>${checkoutText(language, 'merchant')}</dt><dd>${merchant.descriptor}</dd>
<dt>${checkoutText(language, 'order')}</dt><dd>${view.orderDescription}</dd>
<dt>${checkoutText(language, 'amount')}</dt><dd>${amountText(view.amountMinor, view.currency)}</dd>
<dt>${checkoutText(language, 'card')}</dt><dd>${view.cardMask}</dd>
<dt>${checkoutText(language, 'transaction')}</dt><dd>${view.transId}</dd>
</dl>
${existing.length > 0 ? html`<h2>${checkoutText(language, 'existingApplications')}</h2><ul>${existing.map((row) =>
    html`<li>${row.applicationId}: ${amountText(row.amountMinor, row.currency)}, ${checkoutText(language, `status${row.status}` as CheckoutMessageKey)}, ${checkoutText(language, 'answerBy', { deadline: row.deadlineDate })}</li>`)}</ul>` : ''}
${problemNames.length > 0 ? html`<div class="summary" role="alert"><p>${checkoutText(language, 'errorSummary')}</p><ul>${problemNames.map((name) =>
    html`<li><a href="#${applicationFieldIds[name]}">${problemText(name)}</a></li>`)}</ul></div>` : ''}
${refundable <= 0 ? html`<p role="status">${checkoutText(language, 'nothingToRefund')}</p>` : html`<form class="card" method="post" action="${path}" novalidate>
<input type="hidden" name="lang" value="${language}">
<fieldset aria-describedby="kind-error" ${invalid('kind')}>
<legend>${checkoutText(language, 'kindLegend')}</legend>
<label><input type="radio" id="kind-return" name="kind" value="return" ${kind === 'return' ? html`checked` : ''} ${focus('kind')}> ${checkoutText(language, 'kindReturn')}</label>
<label><input type="radio" id="kind-erroneous" name="kind" value="erroneous_charge" ${kind === 'erroneous_charge' ? html`checked` : ''}> ${checkoutText(language, 'kindErroneous')}</label>
<p class="error" id="kind-error">${problemText('kind')}</p>
</fieldset>
<label for="reason">${checkoutText(language, 'reasonLabel')}</label>
<textarea id="reason" name="reason" maxlength="2000" aria-describedby="reason-error" ${invalid('reason')} ${focus('reason')}>${input?.reason ?? ''}</textarea>
<p class="error" id="reason-error">${problemText('reason')}</p>
<label for="amount">${checkoutText(language, 'amountLabel', { currency: view.currency })}</label>
<input type="text" id="amount" name="amount" inputmode="decimal" value="${input?.amountText ?? formatAmount(refundable, view.currency)}"
 aria-describedby="amount-hint amount-error" ${invalid('amountText')} ${focus('amountText')}>
<p class="hint" id="amount-hint">${checkoutText(language, 'amountHint', { amount: refundableText })}</p>
<p class="error" id="amount-error">${problemText('amountText')}</p>
<label for="contact_email">${checkoutText(language, 'emailLabel')}</label>
<input type="email" id="contact_email" name="contact_email" autocomplete="email" value="${input?.contactEmail ?? view.payerEmail}"
 aria-describedby="contact_email-error" ${invalid('contactEmail')} ${focus('contactEmail')}>
<p class="error" id="contact_email-error">${problemText('contactEmail')}</p>
<p class="note">${checkoutText(language, 'documentsNote')}</p>
<button type="submit" class="primary">${checkoutText(language, 'submitApplication')}</button>
</form>`}
</main>`,
  });
}
