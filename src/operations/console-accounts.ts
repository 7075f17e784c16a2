import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../domain/clock.ts';
import { newId } from '../domain/ids.ts';
import {
  decoyPasswordHash,
  generateConsolePassword,
  hashPassword,
  passwordLengthMax,
  passwordLengthMin,
  verifyPassword,
} from '../security/passwords.ts';
import {
  appendAudit,
  clearLoginFailures,
  countLoginFailure,
  deleteSession,
  findConsoleUserByEmail,
  findConsoleUserById,
  findSession,
  insertConsoleUser,
  insertSession,
  listAudit,
  listConsoleUsers,
  loginLockedUntilMs,
  touchSession,
  type AuditRow,
  type ConsoleUserRow,
  type LoginLockPolicy,
} from '../storage/console.ts';
import type { Storage } from '../storage/database.ts';
import { loadMerchantByClientKey, loadMerchantById } from '../storage/merchants.ts';

/** Console accounts, sessions and the audit log (docs/adr/0080, 0081). */

export const consoleRoles = ['administrator', 'support', 'viewer', 'merchant'] as const;
export type ConsoleRole = (typeof consoleRoles)[number];

/** What each role may do. Reading is everyone's (a merchant user reads only its merchant). */
export type Permission =
  | 'resendCallback'
  | 'refund'
  | 'unblockUrl'
  | 'moveMoney'
  | 'manageMerchants'
  | 'liftLockout'
  | 'readAudit'
  | 'manageUsers'
  | 'decideApplications'
  | 'manageSchedules'
  | 'moveClock'
  | 'readAllMerchants'
  | 'explainSignature'
  | 'rotateOwnPassword'
  | 'manageRouting';

const grants: Record<ConsoleRole, ReadonlySet<Permission>> = {
  administrator: new Set<Permission>([
    'resendCallback',
    'refund',
    'unblockUrl',
    'moveMoney',
    'manageMerchants',
    'liftLockout',
    'readAudit',
    'manageUsers',
    'decideApplications',
    'manageSchedules',
    'moveClock',
    'readAllMerchants',
    'explainSignature',
    'manageRouting',
  ]),
  support: new Set<Permission>(['resendCallback', 'refund', 'unblockUrl', 'readAllMerchants', 'explainSignature']),
  viewer: new Set<Permission>(['readAllMerchants']),
  merchant: new Set<Permission>(['resendCallback', 'explainSignature', 'rotateOwnPassword']),
};

export function may(role: ConsoleRole, permission: Permission): boolean {
  return grants[role].has(permission);
}

export interface ConsoleUser {
  userId: string;
  email: string;
  role: ConsoleRole;
  /** Set for merchant users only: everything they see is this merchant's. */
  merchantId: string | null;
}

function userOf(row: ConsoleUserRow): ConsoleUser {
  return { userId: row.user_id, email: row.email, role: row.role as ConsoleRole, merchantId: row.merchant_id };
}

export class ConsoleInputError extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Who made a change: a console user, or the CLI (with the operating-system user). */
export interface Actor {
  name: string;
  role: string;
}

export function actorOf(user: ConsoleUser): Actor {
  return { name: user.email, role: user.role };
}

export interface AuditChange {
  action: string;
  target: string;
  merchantId?: string | null;
  before?: unknown;
  after?: unknown;
}

/** Appends one entry. Callers pass masks and ids only: the log never holds card data or secrets. */
export async function recordAudit(storage: Storage, clock: Clock, actor: Actor, change: AuditChange): Promise<void> {
  const nowMs = clock.nowMs();
  await appendAudit(storage, {
    entry_id: newId(nowMs),
    at_ms: nowMs,
    actor: actor.name,
    actor_role: actor.role,
    merchant_id: change.merchantId ?? null,
    action: change.action,
    target: change.target,
    before_json: change.before === undefined ? null : JSON.stringify(change.before),
    after_json: change.after === undefined ? null : JSON.stringify(change.after),
  });
}

export interface AuditEntry {
  entryId: string;
  atMs: number;
  actor: string;
  actorRole: string;
  merchantId: string | null;
  action: string;
  target: string;
  before: string | null;
  after: string | null;
}

function entryOf(row: AuditRow): AuditEntry {
  return {
    entryId: row.entry_id,
    atMs: Number(row.at_ms),
    actor: row.actor,
    actorRole: row.actor_role,
    merchantId: row.merchant_id,
    action: row.action,
    target: row.target,
    before: row.before_json,
    after: row.after_json,
  };
}

export async function auditEntries(
  storage: Storage,
  filter: { merchantId?: string; before?: { atMs: number; entryId: string }; limit?: number },
): Promise<AuditEntry[]> {
  return (await listAudit(storage, { ...filter, limit: Math.min(filter.limit ?? 100, 500) })).map(entryOf);
}

const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface NewConsoleUser {
  email: string;
  role: string;
  /** A merchant user's merchant, by client_key. */
  merchantClientKey?: string;
  /** Absent: one is generated and returned (shown once). */
  password?: string;
}

/** Creates a console account; answers it with its password (generated unless given). */
export async function createConsoleUser(
  dependencies: { storage: Storage; clock: Clock },
  actor: Actor,
  input: NewConsoleUser,
): Promise<{ user: ConsoleUser; password: string }> {
  const email = input.email.trim().toLowerCase();
  if (!emailPattern.test(email) || email.length > 254) throw new ConsoleInputError('not an e-mail address', 'email');
  if (!(consoleRoles as readonly string[]).includes(input.role)) {
    throw new ConsoleInputError(`role is one of ${consoleRoles.join(', ')}`, 'role');
  }
  const role = input.role as ConsoleRole;
  let merchantId: string | null = null;
  if (role === 'merchant') {
    const merchant =
      input.merchantClientKey && (await loadMerchantByClientKey(dependencies.storage, input.merchantClientKey.trim()));
    if (!merchant)
      throw new ConsoleInputError('a merchant user needs the client_key of an existing merchant', 'merchant');
    merchantId = merchant.merchantId;
  } else if (input.merchantClientKey) {
    throw new ConsoleInputError('only a merchant user belongs to a merchant', 'merchant');
  }
  const password = input.password ?? generateConsolePassword();
  if (password.length < passwordLengthMin || password.length > passwordLengthMax) {
    throw new ConsoleInputError(`a password has ${passwordLengthMin}–${passwordLengthMax} characters`, 'password');
  }
  if (await findConsoleUserByEmail(dependencies.storage, email))
    throw new ConsoleInputError('that e-mail already has an account', 'email');
  const nowMs = dependencies.clock.nowMs();
  const row = {
    user_id: newId(nowMs),
    email,
    role,
    merchant_id: merchantId,
    password_hash: await hashPassword(password),
    created_at_ms: nowMs,
    updated_at_ms: nowMs,
  };
  await insertConsoleUser(dependencies.storage, row);
  await recordAudit(dependencies.storage, dependencies.clock, actor, {
    action: 'console user created',
    target: email,
    merchantId,
    after: { email, role, merchant_id: merchantId },
  });
  return { user: userOf(row), password };
}

export async function consoleUsers(storage: Storage): Promise<ConsoleUser[]> {
  return (await listConsoleUsers(storage, 1_000)).map(userOf);
}

/** Session and sign-in rules (docs/adr/0080), on the platform clock: tests move it. */
export const sessionPolicy = {
  idleMs: 30 * 60 * 1000,
  absoluteMs: 12 * 60 * 60 * 1000,
  /** last_seen is written at most this often, not on every page view. */
  touchEveryMs: 60 * 1000,
};
export const loginPolicy: { email: LoginLockPolicy; ip: LoginLockPolicy } = {
  email: { failuresMax: 5, windowMs: 15 * 60 * 1000, lockMs: 15 * 60 * 1000 },
  ip: { failuresMax: 20, windowMs: 15 * 60 * 1000, lockMs: 15 * 60 * 1000 },
};

export function digestOf(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export type SignIn =
  | { ok: true; token: string; user: ConsoleUser }
  | { ok: false; reason: 'wrong' }
  | { ok: false; reason: 'throttled'; retryAtMs: number };

/** Checks a password; a wrong one counts against the e-mail and the client address alike. */
export async function signIn(
  dependencies: { storage: Storage; clock: Clock },
  emailText: string,
  password: string,
  ip: string,
): Promise<SignIn> {
  const { storage, clock } = dependencies;
  const email = emailText.trim().toLowerCase().slice(0, 254);
  const subjects = [`email:${email}`, `ip:${ip}`];
  const lockedUntilMs = await loginLockedUntilMs(storage, subjects, clock.nowMs());
  if (lockedUntilMs > 0) return { ok: false, reason: 'throttled', retryAtMs: lockedUntilMs };
  const row = await findConsoleUserByEmail(storage, email);
  const matches = await verifyPassword(
    password.slice(0, passwordLengthMax),
    row?.password_hash ?? (await decoyPasswordHash()),
  );
  if (!row || !matches) {
    const nowMs = clock.nowMs();
    const locks = [
      await countLoginFailure(storage, subjects[0], nowMs, loginPolicy.email),
      await countLoginFailure(storage, subjects[1], nowMs, loginPolicy.ip),
    ];
    const retryAtMs = Math.max(...locks);
    return retryAtMs > nowMs ? { ok: false, reason: 'throttled', retryAtMs } : { ok: false, reason: 'wrong' };
  }
  await clearLoginFailures(storage, subjects[0]);
  const token = randomBytes(32).toString('base64url');
  const nowMs = clock.nowMs();
  await insertSession(storage, {
    token_digest: digestOf(token),
    user_id: row.user_id,
    csrf_token: randomBytes(24).toString('base64url'),
    created_at_ms: nowMs,
    last_seen_at_ms: nowMs,
  });
  await recordAudit(storage, clock, actorOf(userOf(row)), {
    action: 'signed in',
    target: row.email,
    merchantId: row.merchant_id,
  });
  return { ok: true, token, user: userOf(row) };
}

export interface ConsoleSession {
  user: ConsoleUser;
  csrfToken: string;
  tokenDigest: string;
}

/** The session a cookie names, if it is alive; an expired one is deleted on the way. */
export async function resolveSession(
  dependencies: { storage: Storage; clock: Clock },
  token: string | undefined,
): Promise<ConsoleSession | undefined> {
  if (!token || token.length > 100) return undefined;
  const { storage, clock } = dependencies;
  const tokenDigest = digestOf(token);
  const session = await findSession(storage, tokenDigest);
  if (!session) return undefined;
  const nowMs = clock.nowMs();
  const idle = nowMs - Number(session.last_seen_at_ms) >= sessionPolicy.idleMs;
  const tooOld = nowMs - Number(session.created_at_ms) >= sessionPolicy.absoluteMs;
  const row = idle || tooOld ? undefined : await findConsoleUserById(storage, session.user_id);
  if (!row) {
    await deleteSession(storage, tokenDigest);
    return undefined;
  }
  if (nowMs - Number(session.last_seen_at_ms) >= sessionPolicy.touchEveryMs)
    await touchSession(storage, tokenDigest, nowMs);
  return { user: userOf(row), csrfToken: session.csrf_token, tokenDigest };
}

export async function signOut(
  dependencies: { storage: Storage; clock: Clock },
  session: ConsoleSession,
): Promise<void> {
  await deleteSession(dependencies.storage, session.tokenDigest);
  await recordAudit(dependencies.storage, dependencies.clock, actorOf(session.user), {
    action: 'signed out',
    target: session.user.email,
    merchantId: session.user.merchantId,
  });
}

export function csrfMatches(session: ConsoleSession, given: unknown): boolean {
  if (typeof given !== 'string') return false;
  const expected = Buffer.from(session.csrfToken);
  const received = Buffer.from(given);
  return expected.length === received.length && timingSafeEqual(expected, received);
}

/** The merchant a merchant user belongs to (its client_key for the dashboard). */
export async function merchantOfUser(storage: Storage, user: ConsoleUser) {
  return user.merchantId === null ? undefined : loadMerchantById(storage, user.merchantId);
}
