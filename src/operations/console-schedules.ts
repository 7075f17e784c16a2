import { ProtocolError, protocolErrors } from '../protocol/errors.ts';
import { scheduleHash } from '../protocol/hash.ts';
import { listLiveSchedules } from '../storage/console.ts';
import { loadMerchantById } from '../storage/merchants.ts';
import { actorOf, recordAudit, type ConsoleUser } from './console-accounts.ts';
import type { PlatformContext } from './context.ts';
import { pauseSchedule, removeSchedule, runSchedule } from './schedules.ts';

/** Schedules in the console: listed, paused, run and deleted through the API's own operations
 * (schedules.ts), signed on the merchant's behalf with its PASSWORD as Formula 4 asks. */

export const scheduleActions = { pause: pauseSchedule, run: runSchedule, delete: removeSchedule } as const;
export type ScheduleAction = keyof typeof scheduleActions;

export async function consoleSchedules(context: PlatformContext, user: ConsoleUser) {
  return listLiveSchedules(context.storage, 500, user.merchantId ?? undefined);
}

export async function actOnSchedule(
  context: PlatformContext,
  user: ConsoleUser,
  merchantId: string,
  scheduleId: string,
  action: ScheduleAction,
): Promise<{ done: true } | { done: false; refusal: string }> {
  const merchant = await loadMerchantById(context.storage, merchantId.slice(0, 100));
  if (!merchant || (user.merchantId !== null && user.merchantId !== merchant.merchantId)) {
    return { done: false, refusal: 'no such schedule' };
  }
  const password = context.vault.decrypt(merchant.passwordCiphertext);
  const fields = {
    action: `${action.toUpperCase()}_SCHEDULE`,
    client_key: merchant.clientKey,
    schedule_id: scheduleId.slice(0, 100),
    hash: scheduleHash(scheduleId.slice(0, 100), password),
  };
  try {
    await scheduleActions[action](context, { ...merchant, password, clientIp: 'console' }, fields);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return { done: false, refusal: `${protocolErrors[error.name].code} ${error.message}` };
  }
  await recordAudit(context.storage, context.clock, actorOf(user), {
    action: `schedule ${action}`,
    target: scheduleId,
    merchantId: merchant.merchantId,
  });
  return { done: true };
}
