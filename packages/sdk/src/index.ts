/**
 * @kassa/sdk — the merchant's side of the S2S CARD protocol as Kassa serves it. The hash
 * formulas, field tables and error registry are the very modules the Kassa server runs.
 */
export * from './answers.ts';
export * from './callbacks.ts';
export {
  callbackHash, signCallback, verifyCallback, type CallbackFields, type VerifyingTerms,
} from './callback-signature.ts';
export { encodeForm, KassaClient, type KassaClientOptions, type PaymentKey } from './client.ts';
export * as fieldTables from './action-fields.ts';
export type { Check, FieldRule } from './field-rules.ts';
export { protocolErrors, type ErrorBody, type ProtocolErrorName } from './errors.ts';
export * as formulas from './hash.ts';
export type { HashDigest } from './hash.ts';
export * from './request-fields.ts';
export { requestSignature } from './signatures.ts';
