import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticateMerchant, type AuthenticatedMerchant } from '../operations/authenticate.ts';
import { capture } from '../operations/capture.ts';
import { createCheckout } from '../operations/checkout.ts';
import { countingWrongHashes } from '../operations/hash-lockouts.ts';
import type { PlatformContext } from '../operations/context.ts';
import { getTransDetails } from '../operations/get-trans-details.ts';
import { getTransStatus } from '../operations/get-trans-status.ts';
import { getTransStatusByOrder } from '../operations/get-trans-status-by-order.ts';
import { recurringSale } from '../operations/recurring-sale.ts';
import { retry } from '../operations/retry.ts';
import { kassaVersion } from '../version.ts';
import { refundOrReverse } from '../operations/refund-or-reverse.ts';
import { sale } from '../operations/sale.ts';
import { createSchedule, deschedule, pauseSchedule, removeSchedule, runSchedule, scheduleInfo } from '../operations/schedules.ts';
import { cardToCard, creditToCard, debit } from '../operations/transfers.ts';
import { voidPayment } from '../operations/void.ts';
import { ProtocolError, protocolErrors, type ProtocolErrorName } from '../protocol/errors.ts';
import { openApiDocument } from '../protocol/openapi.ts';
import { messages, type RequestFields } from '../protocol/validation.ts';
import type { HashTerms } from '../protocol/hash-hints.ts';
import {
  renderCapture, renderCreditvoid, renderDetails, renderSale, renderStatus, renderVoid,
} from './api-responses.ts';
import { formFieldsOf } from './form-body.ts';

/** How a 3-D Secure answer lists redirect parameters: an object on `/` and `/post`, a
 * `[{name, value}]` list on `/v2/post`. */
export type RedirectParamsStyle = 'object' | 'list';

type Body = Record<string, unknown>;

type Handler = (context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) => Promise<Body>;

/** An operation that returns a typed outcome, and how the answer is rendered from it. */
function rendered<T>(
  operation: (context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) => Promise<T>,
  render: (context: PlatformContext, outcome: T, merchant: AuthenticatedMerchant) => Body,
): Handler {
  return async (context, merchant, fields) => render(context, await operation(context, merchant, fields), merchant);
}

const handlers: Record<string, Handler> = {
  SALE: rendered(sale, renderSale),
  CAPTURE: rendered(capture, renderCapture),
  CREDITVOID: rendered(refundOrReverse, renderCreditvoid),
  VOID: rendered(voidPayment, renderVoid),
  GET_TRANS_STATUS: rendered(getTransStatus, renderStatus('GET_TRANS_STATUS')),
  GET_TRANS_DETAILS: rendered(getTransDetails, renderDetails),
  GET_TRANS_STATUS_BY_ORDER: rendered(getTransStatusByOrder, renderStatus('GET_TRANS_STATUS_BY_ORDER')),
  CREATE_CHECKOUT: createCheckout,
  RECURRING_SALE: rendered(recurringSale, renderSale),
  CREATE_SCHEDULE: createSchedule,
  PAUSE_SCHEDULE: pauseSchedule,
  RUN_SCHEDULE: runSchedule,
  DELETE_SCHEDULE: removeSchedule,
  SCHEDULE_INFO: scheduleInfo,
  DESCHEDULE: deschedule,
  DEBIT: rendered(debit, renderSale),
  CREDIT2CARD: rendered(creditToCard, renderSale),
  CARD2CARD: rendered(cardToCard, renderSale),
  RETRY: rendered(retry, renderSale),
};

/** The actions the API serves (metrics label values are bounded by this list; the OpenAPI test
 * checks they are the field tables' actions). */
export const apiActions: readonly string[] = Object.keys(handlers);
export const servedActions = apiActions;
/** The API's paths; everything else is a page or an operator endpoint. */
export const apiPaths: ReadonlySet<string> = new Set(['/', '/post', '/payment/post', '/v2/post']);

/** `/v2/post` lists redirect parameters as `[{name, value}]` instead of an object. */
function listRedirectParams(body: Record<string, unknown>): void {
  const params = body.redirect_params;
  if (params && typeof params === 'object' && !Array.isArray(params)) {
    body.redirect_params = Object.entries(params).map(([name, value]) => ({ name, value }));
  }
}

const clientKeyShape = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Answers an operator watches for: someone guessing, or a merchant's setup gone wrong. */
const warnedErrors = new Set<ProtocolErrorName>(['hashInvalid', 'hashLockedOut', 'ipNotAllowed', 'merchantNotFound']);

/**
 * One line per ERROR answer: merchant, action, code, request id (bound as reqId); an internal
 * failure's line carries its stack, at level error. Only values of a known shape are copied
 * from the request — a client_key that is a UUID, an action Kassa serves, the names of invalid
 * fields — so no card number can reach the log through it.
 */
export function logErrorAnswer(request: FastifyRequest, error: ProtocolError, detail?: Record<string, unknown>): void {
  const fields = apiFieldsOf(request);
  const { action: actionText, client_key: clientKeyText } = fields;
  const action = typeof actionText === 'string' && Object.hasOwn(handlers, actionText) ? actionText : undefined;
  const clientKey = typeof clientKeyText === 'string' && clientKeyShape.test(clientKeyText)
    ? clientKeyText.toLowerCase() : undefined;
  const invalidFields = error.fieldErrors.length > 0 ? error.fieldErrors.map((problem) => problem.field) : undefined;
  const errorCode = protocolErrors[error.name].code;
  const line = { clientKey, action, errorCode, error: error.name, invalidFields, ...detail };
  if (error.name === 'internal' || error.name === 'storageUnavailable') request.log.error(line, 'api error answer');
  else if (warnedErrors.has(error.name)) request.log.warn(line, 'api error answer');
  else request.log.info(line, 'api error answer');
}

/**
 * Sandbox: the request for `kassa logs tail` (docs/adr/0079) — as logErrorAnswer, only values of
 * a known shape come from the request (a UUID client_key, an action Kassa serves); the rest is
 * the answer's result, status, trans_id and error, and the names of refused fields.
 */
export function recordApiRequest(
  request: FastifyRequest, recorder: PlatformContext['apiRequests'], body: Record<string, unknown>, elapsedMs: number,
  invalidFields: readonly string[] = [], hashTerms?: HashTerms,
): void {
  if (!recorder) return;
  const fields = apiFieldsOf(request);
  const { action, client_key: clientKey } = fields;
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
  recorder.record({
    request_id: request.id,
    client_key: typeof clientKey === 'string' && clientKeyShape.test(clientKey) ? clientKey.toLowerCase() : null,
    action: typeof action === 'string' && Object.hasOwn(handlers, action) ? action : null,
    method: request.method,
    path: request.routeOptions.url ?? request.url.split('?')[0],
    remote_ip: request.ip,
    result: text(body.result) ?? 'UNKNOWN',
    status: text(body.status),
    error_code: typeof body.error_code === 'number' ? body.error_code : null,
    error_message: text(body.error_message),
    invalid_fields: invalidFields.length > 0 ? JSON.stringify(invalidFields) : null,
    trans_id: text(body.trans_id),
    duration_ms: Math.round(elapsedMs),
    hash_terms_json: hashTerms ? JSON.stringify(hashTerms) : null,
  });
}

/** The request's fields: the form body, or the query string of a GET (SCHEDULE_INFO). */
export function apiFieldsOf(request: FastifyRequest): RequestFields {
  if (request.method !== 'GET') return formFieldsOf(request) as RequestFields;
  const query = request.query;
  return query && typeof query === 'object' ? (query as RequestFields) : {};
}

/** The spec: SCHEDULE_INFO "is sent by GET". Only it: every other action carries card data or
 * moves money, which has no place in a URL that proxies and logs keep. */
const actionsByGet = new Set(['SCHEDULE_INFO']);

/** Thin: parse, authenticate, call one operation, send JSON. Errors go to the error handler. */
/** `frontDoor`: what a `GET /` without any field gets — a person's browser, not a merchant's
 * SCHEDULE_INFO (which always names its action): the console's front page. */
export function registerApiRoutes(
  app: FastifyInstance, context: PlatformContext,
  frontDoor?: (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>,
): void {
  const handle = (style: RedirectParamsStyle) => async (request: FastifyRequest, reply: FastifyReply) => {
    const fields = apiFieldsOf(request);
    const action = fields.action;
    if (typeof action !== 'string' || action === '') {
      throw new ProtocolError('requestInvalid', [{ field: 'action', message: messages.blank }]);
    }
    if (request.method === 'GET' && !actionsByGet.has(action)) throw new ProtocolError('actionNotSupported');
    const merchant = await authenticateMerchant(context, fields, request.ip, request.id);
    const handler = Object.hasOwn(handlers, action) ? handlers[action] : undefined;
    if (!handler) throw new ProtocolError('actionNotSupported');
    const operation = () => handler(context, merchant, fields);
    const body = await countingWrongHashes(context, merchant, merchant.clientIp, operation);
    if (style === 'list') listRedirectParams(body);
    request.log.info({ action, result: body.result, status: body.status, transId: body.trans_id }, 'api request');
    recordApiRequest(request, context.apiRequests, body, reply.elapsedTime);
    context.metrics?.recordApiAnswer(action, body, reply.elapsedTime);
    return reply.send(body);
  };
  // White labels of this platform family post to /payment/post; their clients work unchanged.
  for (const path of ['/', '/post', '/payment/post', '/v2/post']) {
    const style = path === '/v2/post' ? 'list' : 'object';
    app.post(path, handle(style));
    const api = handle(style);
    app.get(path, path === '/' && frontDoor
      ? (request, reply) => (isEmptyQuery(request.query) ? frontDoor(request, reply) : api(request, reply))
      : api);
  }
  // Built once: it depends on the field tables and the public URL only.
  const openApi = JSON.stringify(openApiDocument({ serverUrl: context.publicBaseUrl, version: kassaVersion }));
  app.get('/openapi.json', (_request, reply) => reply.type('application/json; charset=utf-8').send(openApi));
}

function isEmptyQuery(query: unknown): boolean {
  return typeof query !== 'object' || query === null || Object.keys(query).length === 0;
}
