/** How a request table describes one field: the server validates with these rules, the OpenAPI
 * document is generated from them, and the SDK's request types name the same fields. */
export type Check =
  | 'text' | 'uuid' | 'country' | 'currency' | 'date' | 'ip' | 'url' | 'email' | 'yesNo'
  | 'cardNumber' | 'month' | 'year' | 'cvv' | 'amountText'
  | 'positiveInteger' | 'nonNegativeInteger' | 'dayOfMonth' | 'intervalUnit';

export interface FieldRule {
  required?: boolean;
  check?: Check;
  maxLength?: number;
  exactLength?: number;
}
