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
import { refundOrReverse } from '../operations/refund-or-reverse.ts';
import { sale } from '../operations/sale.ts';
import { createSchedule, deschedule, pauseSchedule, removeSchedule, runSchedule, scheduleInfo } from '../operations/schedules.ts';
import { cardToCard, creditToCard, debit } from '../operations/transfers.ts';
import { voidPayment } from '../operations/void.ts';
import { ProtocolError, protocolErrors, type ProtocolErrorName } from '../protocol/errors.ts';
import { messages, type RequestFields } from '../protocol/validation.ts';
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
  render: (context: PlatformContext, outcome: T) => Body,
): Handler {
  return async (context, merchant, fields) => render(context, await operation(context, merchant, fields));
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
};

/** The actions the API serves (metrics label values are bounded by this list). */
export const apiActions: readonly string[] = Object.keys(handlers);
/** The API's paths; everything else is a page or an operator endpoint. */
export const apiPaths: ReadonlySet<string> = new Set(['/', '/post', '/v2/post']);

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
  const fields = formFieldsOf(request);
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

/** Thin: parse, authenticate, call one operation, send JSON. Errors go to the error handler. */
export function registerApiRoutes(app: FastifyInstance, context: PlatformContext): void {
  const handle = (style: RedirectParamsStyle) => async (request: FastifyRequest, reply: FastifyReply) => {
    const fields = formFieldsOf(request) as RequestFields;
    const action = fields.action;
    if (typeof action !== 'string' || action === '') {
      throw new ProtocolError('requestInvalid', [{ field: 'action', message: messages.blank }]);
    }
    const merchant = await authenticateMerchant(context, fields, request.ip, request.id);
    const handler = Object.hasOwn(handlers, action) ? handlers[action] : undefined;
    if (!handler) throw new ProtocolError('actionNotSupported');
    const operation = () => handler(context, merchant, fields);
    const body = await countingWrongHashes(context, merchant, merchant.clientIp, operation);
    if (style === 'list') listRedirectParams(body);
    request.log.info({ action, result: body.result, status: body.status, transId: body.trans_id }, 'api request');
    context.metrics?.recordApiAnswer(action, body, reply.elapsedTime);
    return reply.send(body);
  };
  app.post('/', handle('object'));
  app.post('/post', handle('object'));
  app.post('/v2/post', handle('list'));
}
