import { timingSafeEqual } from 'node:crypto';
import { financialDay } from '../domain/dates.ts';
import { newId } from '../domain/ids.ts';
import { createScheduleFields, descheduleFields, scheduleFields } from '../protocol/action-fields.ts';
import { ProtocolError, type FieldError } from '../protocol/errors.ts';
import { createScheduleHash, hashesMatch, scheduleHash } from '../protocol/hash.ts';
import { messages, validateFields, type FieldRule, type RequestFields } from '../protocol/validation.ts';
import { loadPayment, merchantHasRecurringToken } from '../storage/payments.ts';
import {
  bindingsOfSchedule, deleteSchedule, deschedule as descheduleBindings, insertSchedule, loadSchedule, setPaused,
  type Schedule,
} from '../storage/schedules.ts';
import type { AuthenticatedMerchant } from './authenticate.ts';
import type { PlatformContext } from './context.ts';

/**
 * The spec's recurring schedule operations. A schedule is a template (interval, count,
 * delays); cards are bound to it by a SALE with recurring_init=Y or a RECURRING_SALE carrying
 * schedule_id, and the scheduler (workers/schedule-runner.ts) charges them on their due dates.
 * Formula 3 signs CREATE_SCHEDULE, Formula 4 the others; the hash needs nothing stored, so it
 * is checked before the schedule is looked up.
 */

function validated(fields: RequestFields, rules: Record<string, FieldRule>): Record<string, string | undefined> {
  const errors: FieldError[] = [];
  const values = validateFields(fields, rules, errors);
  if (rules === createScheduleFields && values.day_of_month !== undefined && values.interval_unit === 'day') {
    // The spec: day_of_month is "available only if interval_unit = month".
    errors.push({ field: 'day_of_month', message: messages.shouldBeBlank });
  }
  if (errors.length > 0) throw new ProtocolError('requestInvalid', errors);
  return values;
}

async function signedSchedule(
  context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields,
  rules: Record<string, FieldRule> = scheduleFields,
): Promise<{ schedule: Schedule; values: Record<string, string | undefined> }> {
  const values = validated(fields, rules);
  const expected = scheduleHash(values.schedule_id!, merchant.password, merchant.hashDigest);
  if (!hashesMatch(expected, values.hash!)) throw new ProtocolError('hashInvalid');
  const schedule = await loadSchedule(context.storage, merchant.merchantId, values.schedule_id!.toLowerCase());
  if (!schedule) throw new ProtocolError('scheduleNotFound');
  return { schedule, values };
}

export async function createSchedule(context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) {
  const values = validated(fields, createScheduleFields);
  const expected = createScheduleHash(merchant.password, merchant.hashDigest);
  if (!hashesMatch(expected, values.hash!)) throw new ProtocolError('hashInvalid');
  const nowMs = context.clock.nowMs();
  const scheduleId = newId(nowMs);
  await insertSchedule(context.storage, {
    scheduleId, merchantId: merchant.merchantId, name: values.name!, intervalUnit: values.interval_unit!,
    intervalLength: Number(values.interval_length),
    dayOfMonth: values.day_of_month === undefined ? null : Number(values.day_of_month),
    paymentsCount: Number(values.payments_count), delays: values.delays === undefined ? 0 : Number(values.delays),
    paused: false,
  }, nowMs);
  return { action: 'CREATE_SCHEDULE', result: 'SUCCESS', schedule_id: scheduleId };
}

/** Paused: no scheduled charge is made, and no new recurring payment may use it. */
export async function pauseSchedule(context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) {
  const { schedule } = await signedSchedule(context, merchant, fields);
  if (!(await setPaused(context.storage, schedule.scheduleId, true, context.clock.nowMs(), null))) {
    throw new ProtocolError('schedulePaused');
  }
  return { action: 'PAUSE_SCHEDULE', result: 'SUCCESS' };
}

/** Released: the cycle goes on from today; dates that fell during the pause are skipped, not
 * charged late (they are not counted in payments_count either). */
export async function runSchedule(context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) {
  const { schedule } = await signedSchedule(context, merchant, fields);
  const nowMs = context.clock.nowMs();
  if (!(await setPaused(context.storage, schedule.scheduleId, false, nowMs, financialDay(nowMs, context.timeZone)))) {
    throw new ProtocolError('scheduleNotPaused');
  }
  return { action: 'RUN_SCHEDULE', result: 'SUCCESS' };
}

/** Deleted: no more charges, no new bindings, and the schedule answers 900101 from now on. */
export async function removeSchedule(context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) {
  const { schedule } = await signedSchedule(context, merchant, fields);
  if (!(await deleteSchedule(context.storage, schedule.scheduleId, context.clock.nowMs()))) {
    throw new ProtocolError('scheduleNotFound');
  }
  return { action: 'DELETE_SCHEDULE', result: 'SUCCESS' };
}

export async function scheduleInfo(context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) {
  const { schedule } = await signedSchedule(context, merchant, fields);
  const body: Record<string, unknown> = {
    action: 'SCHEDULE_INFO', result: 'SUCCESS', name: schedule.name, interval_length: schedule.intervalLength,
    interval_unit: schedule.intervalUnit,
  };
  if (schedule.intervalUnit === 'month' && schedule.dayOfMonth !== null) body.day_of_month = schedule.dayOfMonth;
  body.payments_count = schedule.paymentsCount;
  body.delays = schedule.delays;
  body.paused = schedule.paused ? 'Y' : 'N';
  return body;
}

function sameText(left: string, right: string): boolean {
  const a = Buffer.from(left.toLowerCase());
  const b = Buffer.from(right.toLowerCase());
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Stops the schedule's payments for the card of one recurring token; the schedule stays. */
export async function deschedule(context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) {
  const { schedule, values } = await signedSchedule(context, merchant, fields, descheduleFields);
  let sourceTransId: string | undefined;
  let tokenKnown = false;
  for (const binding of await bindingsOfSchedule(context.storage, schedule.scheduleId)) {
    const source = await loadPayment(context.storage, merchant.merchantId, binding.sourceTransId);
    if (source?.recurringToken && sameText(source.recurringToken, values.recurring_token!)) {
      tokenKnown = true;
      if (binding.status === 'active') sourceTransId = binding.sourceTransId;
    }
  }
  if (!tokenKnown) {
    const elsewhere = await merchantHasRecurringToken(context.storage, merchant.merchantId, values.recurring_token!);
    throw new ProtocolError(elsewhere ? 'recurringNotBound' : 'recurringTokenInvalid');
  }
  const nowMs = context.clock.nowMs();
  if (!sourceTransId || (await descheduleBindings(context.storage, schedule.scheduleId, sourceTransId, nowMs)) === 0) {
    throw new ProtocolError('recurringNotBound');
  }
  return { action: 'DESCHEDULE', result: 'SUCCESS' };
}
