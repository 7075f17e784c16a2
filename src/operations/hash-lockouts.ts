import { isIP } from 'node:net';
import { ProtocolError } from '../protocol/errors.ts';
import type { Storage } from '../storage/database.ts';
import {
  countWrongHash, deleteHashLockout, findHashLockouts, pairLockedUntilMs,
  type HashLockoutPolicy, type HashLockoutRecord,
} from '../storage/hash-lockouts.ts';
import { loadMerchantByClientKey, loadMerchantById, type MerchantRecord } from '../storage/merchants.ts';
import { normalizeIp } from './authenticate.ts';
import type { PlatformContext } from './context.ts';

/**
 * Guessing a merchant's PASSWORD through the hash: about 10 wrong hashes in 15 minutes from one
 * allowed IP lock that (merchant, IP) pair for 15 minutes. Counted in the database, so every
 * node shares the count (docs/adr/0021-wrong-hash-lockout.md).
 */
export const hashLockoutPolicy: HashLockoutPolicy = {
  wrongHashesMax: 10,
  windowMs: 15 * 60 * 1000,
  lockMs: 15 * 60 * 1000,
};

/**
 * Refuses every request of a locked pair before its hash is looked at, so the answer cannot tell
 * a right hash from a wrong one. A correct request of an unlocked merchant costs nothing: the
 * cached merchant says none of its pairs is locked; only then is the pair's row read.
 */
export async function refuseLockedPair(context: PlatformContext, merchant: MerchantRecord, ip: string): Promise<void> {
  const nowMs = context.clock.nowMs();
  if ((merchant.hashLockedUntilMs ?? 0) <= nowMs) return;
  if ((await pairLockedUntilMs(context.storage, merchant.merchantId, ip)) > nowMs) {
    throw new ProtocolError('hashLockedOut');
  }
}

/** Runs one operation and counts its answer when that answer is a wrong hash. */
export async function countingWrongHashes<T>(
  context: PlatformContext, merchant: MerchantRecord, ip: string, operation: () => Promise<T>,
): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof ProtocolError && error.name === 'hashInvalid') {
      const nowMs = context.clock.nowMs();
      const lockedUntilMs = await countWrongHash(context.storage, merchant.merchantId, ip, nowMs, hashLockoutPolicy);
      if (lockedUntilMs > 0) {
        context.logger.warn({ clientKey: merchant.clientKey, ip, lockedUntil: new Date(lockedUntilMs).toISOString() },
          'wrong hashes: (merchant, IP) locked');
      }
    }
    throw error;
  }
}

export class LockoutInputError extends Error {}

export interface LockoutView {
  clientKey: string;
  ip: string;
  wrongHashes: number;
  windowStartedAtMs: number;
  /** 0: not locked (the pair is only counting). */
  lockedUntilMs: number;
}

/** Pairs counting wrong hashes or locked, latest lock first; of one merchant when asked. */
export async function listLockouts(
  storage: Storage, filter: { clientKey?: string; limit?: number } = {},
): Promise<LockoutView[]> {
  const merchantId = filter.clientKey === undefined
    ? undefined : (await merchantOf(storage, filter.clientKey)).merchantId;
  const records = await findHashLockouts(storage, { merchantId, limit: filter.limit ?? 1_000 });
  const clientKeys = new Map<string, string>();
  const views: LockoutView[] = [];
  for (const record of records) views.push(await viewOf(storage, record, clientKeys));
  return views;
}

async function viewOf(
  storage: Storage, record: HashLockoutRecord, clientKeys: Map<string, string>,
): Promise<LockoutView> {
  let clientKey = clientKeys.get(record.merchantId);
  if (clientKey === undefined) {
    clientKey = (await loadMerchantById(storage, record.merchantId))?.clientKey ?? record.merchantId;
    clientKeys.set(record.merchantId, clientKey);
  }
  const { ip, wrongHashes, windowStartedAtMs, lockedUntilMs } = record;
  return { clientKey, ip, wrongHashes, windowStartedAtMs, lockedUntilMs };
}

/** Lifts a pair's lock and forgets its count; false when the pair had neither. */
export async function liftLockout(storage: Storage, clientKey: string, ip: string): Promise<boolean> {
  const address = normalizeIp(ip.trim());
  if (isIP(address) === 0) throw new LockoutInputError(`not an IP address: ${ip}`);
  const merchant = await merchantOf(storage, clientKey);
  return deleteHashLockout(storage, merchant.merchantId, address);
}

async function merchantOf(storage: Storage, clientKey: string): Promise<MerchantRecord> {
  const merchant = await loadMerchantByClientKey(storage, clientKey.trim().toLowerCase());
  if (!merchant) throw new LockoutInputError(`no merchant with client_key ${clientKey}`);
  return merchant;
}
