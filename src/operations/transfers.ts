import { parseAmount } from '../domain/money.ts';
import { Secret } from '../domain/secret.ts';
import { cardToCardFields, creditToCardFields, debitFields, payeeFieldNames, payerFieldNames, tokenCreditToCardFields } from '../protocol/action-fields.ts';
import { ProtocolError, requestInvalid, type FieldError } from '../protocol/errors.ts';
import { cardHashPart, creditToCardHash, hashesMatch, saleHash } from '../protocol/hash.ts';
import { messages, validateFields, validateParameters, type FieldRule, type RequestFields } from '../protocol/validation.ts';
import { missingParameterErrors } from './acquirer-parameters.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import type { PlatformContext } from './context.ts';
import { paymentExtrasOf, type PaymentExtras } from './payment-extras.ts';
import { tokenCard } from './recurring.ts';
import { orderAmountAndChannel, performSale, requestFingerprint, type SaleCommand, type SaleOutcome } from './sale.ts';

/**
 * The transfer actions — DEBIT, CREDIT2CARD, CARD2CARD — are payments on one card made through
 * the SALE path (performSale), so replays, PREPARE-first connectors, 3-D Secure and callbacks
 * behave exactly as for SALE. What differs is the field table, the hash formula, the
 * sub-transaction type in GET_TRANS_DETAILS (DEBIT, CREDIT, TRANSFER) and the bodies, which
 * performSale derives from the plan's action.
 */

type Values = Record<string, string | undefined>;

/** Table, amount, channel and Appendix C parameters, every problem reported at once. */
function validateTransfer(
  context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields, action: string, rules: Record<string, FieldRule>,
): { values: Values; amountMinor: number; parameters: Record<string, string>; extras: PaymentExtras } {
  const errors: FieldError[] = [];
  const values = validateFields(fields, rules, errors);
  const parameters = validateParameters(fields, errors) ?? {};
  const extras = paymentExtrasOf(context, values, fields, errors);
  const amountMinor = orderAmountAndChannel(values, merchant, errors);
  errors.push(...missingParameterErrors(context.acquirer, action, parameters));
  if (errors.length > 0) throw requestInvalid(errors, messages.currency);
  return { values, amountMinor, parameters, extras };
}

function pick(values: Values, names: readonly string[]): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of names) if (values[name] !== undefined) picked[name] = values[name]!;
  return picked;
}

/** The parts of a command every transfer fills the same way. */
function commonCommand(
  { values, amountMinor, parameters, extras }: ReturnType<typeof validateTransfer>,
) {
  return {
    orderId: values.order_id!,
    amountMinor,
    currency: values.order_currency!,
    description: values.order_description!,
    // Absent e-mail is stored empty: Formula 2 on later requests and callbacks then drops it.
    payerEmail: values.payer_email ?? '',
    payer: pick(values, payerFieldNames),
    termUrlTarget: null,
    channelId: values.channel_id ?? null,
    parameters,
    isAuth: false,
    recurringInit: false,
    extras,
  };
}

/** DEBIT: the debit leg of a transfer. Formula 1, the e-mail term dropped when none is sent. */
export async function debit(
  context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields,
): Promise<SaleOutcome> {
  const validated = validateTransfer(context, merchant, fields, 'DEBIT', debitFields);
  const { values } = validated;
  const command: SaleCommand = {
    ...commonCommand(validated),
    cardNumber: new Secret(values.card_number!),
    cvv: new Secret(values.card_cvv2!),
    expiryMonth: Number(values.card_exp_month),
    expiryYear: Number(values.card_exp_year),
    termUrl: values.term_url_3ds!,
  };
  const cardDigits = cardHashPart(values.card_number!);
  const expected = saleHash({ email: command.payerEmail, password: merchant.password, cardDigits }, merchant.hashDigest);
  if (!hashesMatch(expected, values.hash!)) throw new ProtocolError('hashInvalid');
  const fingerprint = requestFingerprint(context, merchant.merchantId, fields);
  return performSale(context, merchant, { action: 'DEBIT', command, fingerprint, alsoWrite: [] });
}

/** Appendix C set 2 (PWD) sends the payee card's expiry as parameters; use it when it is a
 * real month and year so the acquirer (and the test card table) can judge the card. */
function expiryFromParameters(parameters: Record<string, string>): { expiryMonth: number; expiryYear: number } {
  const month = Number(parameters.card_exp_month);
  const year = Number(parameters.card_exp_year);
  if (/^\d{2}$/.test(parameters.card_exp_month ?? '') && month >= 1 && month <= 12 && /^\d{4}$/.test(parameters.card_exp_year ?? '')) {
    return { expiryMonth: month, expiryYear: year };
  }
  return { expiryMonth: 0, expiryYear: 0 };
}

/**
 * CREDIT2CARD: money from the merchant's account to a card. Formula 5 (no e-mail), or its
 * card_token variant; status queries and callbacks then use Formula 6. No cardholder takes
 * part, so no CVV and no 3-D Secure; the answer is final at once.
 */
export async function creditToCard(
  context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields,
): Promise<SaleOutcome> {
  // As for SALE: card data makes card_token ignored; card_token alone makes card_number optional.
  const usesToken = typeof fields.card_token === 'string' && fields.card_token !== '' && !fields.card_number;
  const validated = validateTransfer(
    context, merchant, fields, 'CREDIT2CARD', usesToken ? tokenCreditToCardFields : creditToCardFields);
  const { values, parameters } = validated;
  let card: Pick<SaleCommand, 'cardNumber' | 'expiryMonth' | 'expiryYear'>;
  if (usesToken) {
    // 205005 unknown, 205007 another merchant's, 205006 expired — as for SALE.
    card = await tokenCard(context, merchant.merchantId, values.card_token!);
  } else {
    card = { cardNumber: new Secret(values.card_number!), ...expiryFromParameters(parameters) };
  }
  const signed = usesToken ? values.card_token! : cardHashPart(card.cardNumber.reveal());
  const expected = creditToCardHash(merchant.password, signed, merchant.hashDigest);
  if (!hashesMatch(expected, values.hash!)) throw new ProtocolError('hashInvalid');
  const command: SaleCommand = {
    ...commonCommand(validated),
    ...card,
    cvv: new Secret(''),
    termUrl: '',
  };
  // No expiry sent (expiryMonth 0): performSale stores none rather than a made-up `00/0`.
  const fingerprint = requestFingerprint(context, merchant.merchantId, fields);
  return performSale(context, merchant, {
    action: 'CREDIT2CARD', command, fingerprint, payee: { fields: pick(values, payeeFieldNames) }, alsoWrite: [],
  });
}

/**
 * CARD2CARD: one TRANSFER from the payer's card to the payee's. Formula 1 over payer_email (if
 * sent) and the payer's card. The payer is present: CVV and 3-D Secure as for SALE.
 */
export async function cardToCard(
  context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields,
): Promise<SaleOutcome> {
  const validated = validateTransfer(context, merchant, fields, 'CARD2CARD', cardToCardFields);
  const { values } = validated;
  const command: SaleCommand = {
    ...commonCommand(validated),
    cardNumber: new Secret(values.payer_card_number!),
    cvv: new Secret(values.payer_card_cvv2!),
    expiryMonth: Number(values.payer_card_exp_month),
    expiryYear: Number(values.payer_card_exp_year),
    termUrl: values.term_url_3ds!,
  };
  const cardDigits = cardHashPart(values.payer_card_number!);
  const expected = saleHash({ email: command.payerEmail, password: merchant.password, cardDigits }, merchant.hashDigest);
  if (!hashesMatch(expected, values.hash!)) throw new ProtocolError('hashInvalid');
  // The payee card goes to the connector with the payer's, and is stored masked and encrypted.
  const payee = { fields: pick(values, payeeFieldNames), cardNumber: new Secret(values.payee_card_number!) };
  const fingerprint = requestFingerprint(context, merchant.merchantId, fields);
  const plan = { action: 'CARD2CARD', command, fingerprint, payee, alsoWrite: [] } as const;
  return performSale(context, merchant, plan);
}
