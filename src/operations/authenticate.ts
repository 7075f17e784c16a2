import { BlockList, isIP } from 'node:net';
import { ProtocolError, type FieldError } from '../protocol/errors.ts';
import { validateFields, type FieldRule, type RequestFields } from '../protocol/validation.ts';
import type { MerchantRecord } from '../storage/merchants.ts';
import type { PlatformContext } from './context.ts';
import { refuseLockedPair } from './hash-lockouts.ts';

export interface AuthenticatedMerchant extends MerchantRecord {
  password: string;
  /** The client's address as the allow-list and the wrong-hash lockout see it. */
  clientIp: string;
  /** The request's X-Request-Id (given or made), stored on the payment it creates. */
  requestId?: string;
}

/** `::ffff:1.2.3.4` is how a dual-stack socket shows an IPv4 client. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/** Bounded caches of values derived from merchant settings, keyed by the settings themselves
 * (so an edited merchant simply misses): the profile showed building the allow-list and
 * decrypting the PASSWORD as ~0.1 ms of every request. */
const derivedCacheEntriesMax = 10_000;
const allowListsByEntries = new Map<string, BlockList>();
const passwordsByCiphertext = new Map<string, string>();
const answersByListAndIp = new Map<string, boolean>();

function remember<T>(cache: Map<string, T>, key: string, make: () => T): T {
  let value = cache.get(key);
  if (value === undefined) {
    value = make();
    if (cache.size >= derivedCacheEntriesMax) cache.clear();
    cache.set(key, value);
  }
  return value;
}

/** Allowed entries are addresses or CIDR ranges (`10.0.0.0/8`, `0.0.0.0/0` for anywhere). */
export function isIpAllowed(sourceIp: string, allowedIps: readonly string[]): boolean {
  // A merchant calls from a few addresses; the answer per (list, address) is remembered
  // (BlockList.check builds a SocketAddress per call: ~2% of a SALE in the profile).
  return remember(answersByListAndIp, `${allowedIps.join(',')}|${sourceIp}`, () => checkIp(sourceIp, allowedIps));
}

function checkIp(sourceIp: string, allowedIps: readonly string[]): boolean {
  const ip = normalizeIp(sourceIp);
  const family = isIP(ip);
  if (family === 0) return false;
  const list = remember(allowListsByEntries, allowedIps.join(','), () => buildAllowList(allowedIps));
  return list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

function buildAllowList(allowedIps: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of allowedIps) {
    const [address, prefixText] = entry.split('/');
    const entryFamily = isIP(address ?? '');
    if (entryFamily === 0) continue;
    const type = entryFamily === 4 ? 'ipv4' : 'ipv6';
    if (prefixText === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefixText), type);
  }
  return list;
}

const clientKeyRules: Record<string, FieldRule> = { client_key: { required: true, check: 'uuid' } };

/**
 * Who is asking, before anything else is read: client_key, source IP, S2S CARD mapping, and
 * whether wrong hashes have locked this (merchant, IP) pair. The hash is checked by each
 * operation, since its formula needs that action's fields; the API edge counts wrong ones
 * (operations/hash-lockouts.ts).
 */
export async function authenticateMerchant(
  context: PlatformContext, fields: RequestFields, sourceIp: string, requestId?: string,
): Promise<AuthenticatedMerchant> {
  const errors: FieldError[] = [];
  const { client_key: clientKey } = validateFields(fields, clientKeyRules, errors);
  if (errors.length > 0 || !clientKey) throw new ProtocolError('requestInvalid', errors);
  const merchant = await context.storage.merchants.byClientKey(clientKey.toLowerCase());
  if (!merchant) throw new ProtocolError('merchantNotFound');
  if (!isIpAllowed(sourceIp, merchant.allowedIps)) throw new ProtocolError('ipNotAllowed');
  if (!merchant.s2sCardEnabled) throw new ProtocolError('mappingNotFound');
  const clientIp = normalizeIp(sourceIp);
  await refuseLockedPair(context, merchant, clientIp);
  const password = remember(passwordsByCiphertext, merchant.passwordCiphertext, () => context.vault.decrypt(merchant.passwordCiphertext));
  return { ...merchant, password, clientIp, requestId };
}
