import { timingSafeEqual } from 'node:crypto';
import { financialDay } from '../domain/dates.ts';
import { newId } from '../domain/ids.ts';
import { createScheduleFields, descheduleFields, scheduleFields } from '../protocol/action-fields.ts';
import { ProtocolError, type FieldError } from '../protocol/errors.ts';
import { createScheduleHash, hashesMatch, scheduleHash } from '../protocol/hash.ts';
import { messages, validateFields, type RequestFields } from '../protocol/validation.ts';
import { findPayment } from '../storage/payments.ts';
import {
  bindingsOfSchedule, deleteSchedule, deschedule as descheduleBindings, findSchedule, insertSchedule, setPaused, type ScheduleRow,
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

function validated(fields: RequestFields, rules: typeof scheduleFields): Record<string, string | undefined> {
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
  context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields, rules = scheduleFields,
): Promise<{ schedule: ScheduleRow; values: Record<string, string | undefined> }> {
  const values = validated(fields, rules);
  if (!hashesMatch(scheduleHash(values.schedule_id!, merchant.password), values.hash!)) throw new ProtocolError('hashInvalid');
  const schedule = await findSchedule(context.storage.db, merchant.merchantId, values.schedule_id!.toLowerCase());
  if (!schedule) throw new ProtocolError('scheduleNotFound');
  return { schedule, values };
}

export async function createSchedule(context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) {
  const values = validated(fields, createScheduleFields);
  if (!hashesMatch(createScheduleHash(merchant.password), values.hash!)) throw new ProtocolError('hashInvalid');
  const nowMs = context.clock.nowMs();
  const scheduleId = newId(nowMs);
  await insertSchedule(context.storage.db, {
    schedule_id: scheduleId, merchant_id: merchant.merchantId, name: values.name!, interval_unit: values.interval_unit!,
    interval_length: Number(values.interval_length), day_of_month: values.day_of_month === undefined ? null : Number(values.day_of_month),
    payments_count: Number(values.payments_count), delays: values.delays === undefined ? 0 : Number(values.delays), paused: 0,
    resumed_on: null, deleted_at_ms: null, created_at_ms: nowMs, updated_at_ms: nowMs,
  });
  return { action: 'CREATE_SCHEDULE', result: 'SUCCESS', schedule_id: scheduleId };
}

/** Paused: no scheduled charge is made, and no new recurring payment may use it. */
export async function pauseSchedule(context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) {
  const { schedule } = await signedSchedule(context, merchant, fields);
  if (!(await setPaused(context.storage.db, schedule.schedule_id, true, context.clock.nowMs(), null))) {
    throw new ProtocolError('schedulePaused');
  }
  return { action: 'PAUSE_SCHEDULE', result: 'SUCCESS' };
}

/** Released: the cycle goes on from today; dates that fell during the pause are skipped, not
 * charged late (they are not counted in payments_count either). */
export async function runSchedule(context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) {
  const { schedule } = await signedSchedule(context, merchant, fields);
  const nowMs = context.clock.nowMs();
  if (!(await setPaused(context.storage.db, schedule.schedule_id, false, nowMs, financialDay(nowMs, context.timeZone)))) {
    throw new ProtocolError('scheduleNotPaused');
  }
  return { action: 'RUN_SCHEDULE', result: 'SUCCESS' };
}

/** Deleted: no more charges, no new bindings, and the schedule answers 900101 from now on. */
export async function removeSchedule(context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) {
  const { schedule } = await signedSchedule(context, merchant, fields);
  if (!(await deleteSchedule(context.storage.db, schedule.schedule_id, context.clock.nowMs()))) throw new ProtocolError('scheduleNotFound');
  return { action: 'DELETE_SCHEDULE', result: 'SUCCESS' };
}

export async function scheduleInfo(context: PlatformContext, merchant: AuthenticatedMerchant, fields: RequestFields) {
  const { schedule } = await signedSchedule(context, merchant, fields);
  const body: Record<string, unknown> = {
    action: 'SCHEDULE_INFO', result: 'SUCCESS', name: schedule.name, interval_length: Number(schedule.interval_length),
    interval_unit: schedule.interval_unit,
  };
  if (schedule.interval_unit === 'month' && schedule.day_of_month !== null) body.day_of_month = Number(schedule.day_of_month);
  body.payments_count = Number(schedule.payments_count);
  body.delays = Number(schedule.delays);
  body.paused = schedule.paused === 1 ? 'Y' : 'N';
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
  for (const binding of await bindingsOfSchedule(context.storage.db, schedule.schedule_id)) {
    const source = await findPayment(context.storage.db, merchant.merchantId, binding.source_trans_id);
    if (source?.recurring_token && sameText(source.recurring_token, values.recurring_token!)) {
      tokenKnown = true;
      if (binding.status === 'active') sourceTransId = binding.source_trans_id;
    }
  }
  if (!tokenKnown) {
    const elsewhere = await context.storage.db.selectFrom('payments').select('trans_id')
      .where('merchant_id', '=', merchant.merchantId).where('recurring_token', '=', values.recurring_token!.toLowerCase()).executeTakeFirst();
    throw new ProtocolError(elsewhere ? 'recurringNotBound' : 'recurringTokenInvalid');
  }
  if (!sourceTransId || (await descheduleBindings(context.storage.db, schedule.schedule_id, sourceTransId, context.clock.nowMs())) === 0) {
    throw new ProtocolError('recurringNotBound');
  }
  return { action: 'DESCHEDULE', result: 'SUCCESS' };
}
