import type { Transaction } from 'kysely';
import { insertCardToken } from './card-tokens.ts';
import { saveChallenge, type NewChallenge } from './challenges.ts';
import { reserveLimits, type LimitReservation } from './routing-limits.ts';
import { insertBinding, recordCharge } from './schedules.ts';
import type { CardTokenTable, Database, ScheduleBindingTable, ScheduleChargeTable } from './schema.ts';

/**
 * Rows written in the transaction that inserts a new payment, as data rather than a callback
 * given the transaction: the operations say what goes with the payment (a card token, a schedule
 * binding, a scheduled charge, the 3-D Secure challenge), storage says how it is written. A
 * failure of any of them (a second runner's charge colliding on its UNIQUE key) rolls the
 * payment back with it.
 */
export type PaymentCompanion =
  | { kind: 'card-token'; row: CardTokenTable }
  | { kind: 'schedule-binding'; row: ScheduleBindingTable }
  | {
    kind: 'schedule-charge'; row: ScheduleChargeTable;
    progress: { nextDueOn: string; completed: boolean; nowMs: number };
  }
  | { kind: 'challenge'; challenge: NewChallenge }
  /** The payment's share of its MID's and mapping's limits (storage/routing-limits.ts). */
  | { kind: 'limit-holds'; transId: string; reservations: readonly LimitReservation[] };

/** `paymentFinal`: the payment is written with its outcome (not PREPARE first): a scheduled
 * charge's binding lease is then given up with it (see recordCharge). */
export async function writeCompanions(
  transaction: Transaction<Database>, companions: readonly PaymentCompanion[], paymentFinal: boolean,
): Promise<void> {
  for (const companion of companions) {
    switch (companion.kind) {
      case 'card-token': await insertCardToken(transaction, companion.row); break;
      case 'schedule-binding': await insertBinding(transaction, companion.row); break;
      case 'schedule-charge': await recordCharge(transaction, companion.row, companion.progress, paymentFinal); break;
      case 'challenge': await saveChallenge(transaction, companion.challenge); break;
      case 'limit-holds': await reserveLimits(transaction, companion.transId, companion.reservations); break;
    }
  }
}
