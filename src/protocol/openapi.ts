import type { Check, FieldRule } from '../../packages/sdk/src/field-rules.ts';
import { actionFieldTables, customDataActions, customDataLimits, type ActionName } from './action-fields.ts';
import { protocolErrors } from './errors.ts';

/**
 * The API described as OpenAPI 3.1, generated from the field tables the server validates with
 * (action-fields.ts) and from the error registry: one source, so the document cannot drift from
 * the checks (a test also posts every action empty and compares what the server calls blank
 * with `required` here). Pure: served at GET /openapi.json.
 */
type Schema = Record<string, unknown>;

const checkSchemas: Record<Check, Schema> = {
  text: {},
  uuid: { format: 'uuid' },
  country: { pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2' },
  currency: { pattern: '^[A-Z]{3}$', description: 'ISO 4217 alphabetic code' },
  date: { format: 'date' },
  ip: { description: 'IPv4 or IPv6 address' },
  url: { format: 'uri', pattern: '^https?://' },
  email: { format: 'email' },
  yesNo: { enum: ['Y', 'N'] },
  cardNumber: { pattern: '^[0-9]{12,19}$', description: 'passes the Luhn check' },
  month: { pattern: '^(0[1-9]|1[0-2])$' },
  year: { pattern: '^[0-9]{4}$' },
  cvv: { pattern: '^[0-9]{3,4}$' },
  amountText: { pattern: '^[0-9]+(\\.[0-9]+)?$', description: 'major units, e.g. 1.99' },
  positiveInteger: { pattern: '^[0-9]{1,9}$', description: 'greater than 0' },
  nonNegativeInteger: { pattern: '^[0-9]{1,9}$' },
  dayOfMonth: { pattern: '^[0-9]{1,2}$', description: '1 to 31' },
  intervalUnit: { enum: ['day', 'month'] },
};

export function fieldSchema(rule: FieldRule): Schema {
  const schema: Schema = { type: 'string', ...checkSchemas[rule.check ?? 'text'] };
  if (rule.maxLength !== undefined) schema.maxLength = rule.maxLength;
  if (rule.exactLength !== undefined) {
    schema.minLength = rule.exactLength;
    schema.maxLength = rule.exactLength;
  }
  return schema;
}

/** One action's request: `action` and `client_key`, then the table's fields in table order. */
export function requestSchema(action: ActionName): Schema {
  const table: Record<string, FieldRule> = actionFieldTables[action];
  const properties: Record<string, Schema> = {
    action: { const: action },
    client_key: { type: 'string', format: 'uuid' },
  };
  const required = ['action', 'client_key'];
  for (const [field, rule] of Object.entries(table)) {
    properties[field] = fieldSchema(rule);
    if (rule.required) required.push(field);
  }
  if (['SALE', 'DEBIT', 'CREDIT2CARD', 'CARD2CARD'].includes(action)) {
    properties.parameters = { type: 'object', additionalProperties: { type: 'string', maxLength: 1024 } };
  }
  if ((customDataActions as readonly string[]).includes(action)) {
    properties.custom_data = {
      type: 'object',
      description: '5.6.x: sent as custom_data[key]=value, echoed in every callback of the payment; never card data',
      maxProperties: customDataLimits.maxKeys,
      propertyNames: { minLength: 1, maxLength: customDataLimits.maxKeyLength },
      additionalProperties: { type: 'string', maxLength: customDataLimits.maxValueLength },
    };
  }
  return { type: 'object', title: action, properties, required };
}

function errorSchemas(): Record<string, Schema> {
  const codes = [...new Set(Object.values(protocolErrors).map((entry) => entry.code))].sort((a, b) => a - b);
  return {
    ErrorAnswer: {
      type: 'object',
      description: 'Every refusal: HTTP 200 and this body (see x-errors for each code\'s message).',
      properties: {
        result: { const: 'ERROR' },
        error_code: { type: 'integer', enum: codes },
        error_message: { type: 'string' },
        errors: {
          type: 'array',
          items: {
            type: 'object',
            properties: { error_code: { type: 'integer' }, error_message: { type: 'string' } },
            required: ['error_code', 'error_message'],
          },
        },
      },
      required: ['result', 'error_code', 'error_message'],
    },
    Answer: {
      type: 'object',
      description: 'The action\'s answer, fields as in the spec\'s response tables.',
      properties: {
        action: { type: 'string' },
        result: { enum: ['SUCCESS', 'DECLINED', 'REDIRECT', 'ACCEPTED', 'UNDEFINED'] },
        status: { type: 'string' },
        order_id: { type: 'string' },
        trans_id: { type: 'string', format: 'uuid' },
      },
      required: ['result'],
    },
  };
}

export interface OpenApiOptions {
  serverUrl: string;
  version: string;
}

export function openApiDocument({ serverUrl, version }: OpenApiOptions): Schema {
  const actions = Object.keys(actionFieldTables) as ActionName[];
  const schemas: Record<string, Schema> = errorSchemas();
  for (const action of actions) schemas[`${action}Request`] = requestSchema(action);
  const requestRef = { oneOf: actions.map((action) => ({ $ref: `#/components/schemas/${action}Request` })) };
  const operation = (operationId: string) => ({
    operationId,
    summary: 'Every action of the S2S CARD protocol, chosen by the `action` field',
    requestBody: {
      required: true,
      content: {
        'application/x-www-form-urlencoded': { schema: requestRef },
        'multipart/form-data': { schema: requestRef },
      },
    },
    responses: {
      200: {
        description: 'The answer; errors too are HTTP 200 (result ERROR).',
        content: {
          'application/json': {
            schema: { oneOf: [{ $ref: '#/components/schemas/Answer' }, { $ref: '#/components/schemas/ErrorAnswer' }] },
          },
        },
      },
    },
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'Kassa — S2S CARD API', version,
      description: 'The form protocol of S2S CARD 5.2.0 as Kassa serves it. Generated from the field tables the '
        + 'server validates with and from its error registry.',
    },
    servers: [{ url: serverUrl }],
    paths: {
      '/post': { post: operation('post') },
      '/payment/post': { post: operation('paymentPost') },
      '/v2/post': { post: { ...operation('v2Post'), description: 'redirect_params as a [{name, value}] list' } },
    },
    components: { schemas },
    'x-errors': Object.entries(protocolErrors).map(([name, entry]) => ({
      name, code: entry.code, message: entry.message, source: entry.source,
    })),
  };
}
