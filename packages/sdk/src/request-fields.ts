import type {
  amountOnTransactionFields, cardToCardFields, checkoutFields, createScheduleFields, creditToCardFields, debitFields,
  descheduleFields, orderQueryFields, recurringSaleFields, retryFields, saleFields, scheduleFields,
  tokenCreditToCardFields,
  tokenSaleFields, transactionQueryFields, voidFields,
} from './action-fields.ts';

/**
 * Request types derived from the server's own field tables (action-fields.ts): a field the
 * table requires is required here, every other one optional, and `hash` is left out because the
 * client computes it. A table change shows up as a type error in merchants' code, not at run time.
 */
type RequiredNames<Table> = {
  [Name in keyof Table]: Table[Name] extends { required: true } ? Name : never;
}[keyof Table];
export type FieldsOf<Table> = { [Name in Exclude<RequiredNames<Table>, 'hash'>]: string } & {
  [Name in Exclude<keyof Table, RequiredNames<Table> | 'hash'>]?: string;
};

/** `parameters[name]=value`: extra data for the acquirer (Appendix C). */
export interface WithParameters {
  parameters?: Record<string, string>;
}

/** 5.6.x `custom_data[key]=value` (actions in `customDataActions`): echoed in every callback of
 * the payment, as `custom_data[key]` fields. Never card data: a card number is refused. */
export interface WithCustomData {
  custom_data?: Record<string, string>;
}

export type SaleRequest = FieldsOf<typeof saleFields> & WithParameters & WithCustomData;
export type TokenSaleRequest = FieldsOf<typeof tokenSaleFields> & WithParameters & WithCustomData & {
  card_token: string;
};
export type CaptureRequest = FieldsOf<typeof amountOnTransactionFields>;
export type CreditvoidRequest = FieldsOf<typeof amountOnTransactionFields>;
export type VoidRequest = FieldsOf<typeof voidFields>;
export type TransactionQuery = FieldsOf<typeof transactionQueryFields>;
export type OrderQuery = FieldsOf<typeof orderQueryFields>;
export type CheckoutRequest = FieldsOf<typeof checkoutFields>;
export type RecurringSaleRequest = FieldsOf<typeof recurringSaleFields> & WithCustomData;
export type CreateScheduleRequest = FieldsOf<typeof createScheduleFields>;
export type ScheduleRequest = FieldsOf<typeof scheduleFields>;
export type DescheduleRequest = FieldsOf<typeof descheduleFields>;
export type DebitRequest = FieldsOf<typeof debitFields> & WithParameters & WithCustomData;
export type CreditToCardRequest = FieldsOf<typeof creditToCardFields> & WithParameters & WithCustomData;
export type TokenCreditToCardRequest = FieldsOf<typeof tokenCreditToCardFields> & WithParameters & WithCustomData & {
  card_token: string;
};
export type RetryRequest = FieldsOf<typeof retryFields>;
export type CardToCardRequest = FieldsOf<typeof cardToCardFields> & WithParameters & WithCustomData;
