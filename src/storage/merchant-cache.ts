import type { Kysely } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';
import { findMerchantByClientKey, type MerchantRecord } from './merchants.ts';

/** The channel a trigger on `merchants` notifies on every change (migration 0007). */
export const merchantChangeChannel = 'kassa_merchants';

export interface MerchantLookup {
  /** The merchant with this client_key as the database has it now. */
  byClientKey(clientKey: string): Promise<MerchantRecord | undefined>;
  /** Whether lookups may be answered from memory now (PostgreSQL with its LISTEN up). */
  readonly caching: boolean;
  /** Opens the change listener now rather than at the first lookup (PostgreSQL; else nothing). */
  listen(): void;
  close(): Promise<void>;
}

/** Bumped after every change to merchants this process makes (storage/merchants.ts), which
 * SQLite's data_version does not count. PostgreSQL caches are told at once as well: the trigger's
 * notice of the change comes a moment later, and a request in between must not be served the old
 * row (a wrong-hash lock, say). */
let localChanges = 0;
const localChangeListeners = new Set<() => void>();
export function merchantsChangedHere(): void {
  localChanges += 1;
  for (const listener of localChangeListeners) listener();
}

/**
 * SQLite: the read is in-process, yet it and its query building were ~8% of a SALE's CPU.
 * `PRAGMA data_version` changes whenever another connection (the CLI, sqlite3 by hand) commits
 * to the file; with the count of this process's own merchant changes it tells, for the price of
 * one pragma, whether anything cached may be stale — then the cache starts over.
 */
export function sqliteMerchantLookup(db: Kysely<Database>, dataVersion: () => number, entriesMax = 10_000): MerchantLookup {
  const entries = new Map<string, MerchantRecord>();
  let cachedVersion = '';
  const versionNow = () => `${dataVersion()}:${localChanges}`;
  return {
    caching: true,
    listen: () => undefined,
    async byClientKey(clientKey) {
      const version = versionNow();
      if (version !== cachedVersion) {
        entries.clear();
        cachedVersion = version;
      }
      const cached = entries.get(clientKey);
      if (cached) return cached;
      const merchant = await findMerchantByClientKey(db, clientKey);
      // Unknown keys are not remembered; nor is a read that a change overtook.
      if (merchant && versionNow() === version) {
        if (entries.size >= entriesMax) entries.clear();
        entries.set(clientKey, merchant);
      }
      return merchant;
    },
    close: async () => entries.clear(),
  };
}

export interface CachedMerchantLookupOptions {
  /** Where the LISTEN connection goes (the pool's settings); a function is asked at each
   * (re)connection, so after a failover it goes where the pool's connections go. */
  connection: pg.ClientConfig | (() => pg.ClientConfig);
  /** Makes the client (default: a plain pg.Client). */
  createClient?: (connection: pg.ClientConfig) => pg.Client;
  /** A bound on how long an entry is trusted even if no change is heard of (default 30 s). */
  maxAgeMs?: number;
  /** Entries kept at most; beyond it the cache starts over (default 10,000). */
  entriesMax?: number;
  /** Wait before listening again after the LISTEN connection failed (default 1 s). */
  reconnectDelayMs?: number;
  onListenerError?: (error: Error) => void;
}

function listenerClientOf(options: CachedMerchantLookupOptions): pg.Client {
  const connection = typeof options.connection === 'function' ? options.connection() : options.connection;
  const settings = { connectionTimeoutMillis: 10_000, ...connection };
  return options.createClient ? options.createClient(settings) : new pg.Client(settings);
}

/**
 * PostgreSQL: the merchant read was one of the two round trips of a SALE, and a round trip on a
 * loaded two-core machine is mostly a context switch (the profile put ~35% of the server's time
 * in writev to PostgreSQL). Merchants are read far more often than they change, so they are
 * cached, and kept exact by LISTEN: a statement trigger on `merchants` (migration 0007) notifies
 * at commit of every change, whoever makes it (the CLI in another process, another node, SQL by
 * hand), and a notification empties the cache.
 *
 * The cache is only used while the LISTEN connection is up: before it is established, after it
 * fails, and until it is back, every lookup goes to the database, so a lost notification can
 * never serve stale settings. A generation counter keeps a read that raced a change from being
 * cached. Unknown client_keys are never cached: a merchant created a moment ago is served at once.
 */
export function cachedMerchantLookup(db: Kysely<Database>, options: CachedMerchantLookupOptions): MerchantLookup {
  const maxAgeMs = options.maxAgeMs ?? 30_000;
  const entriesMax = options.entriesMax ?? 10_000;
  const reconnectDelayMs = options.reconnectDelayMs ?? 1_000;
  const entries = new Map<string, { merchant: MerchantRecord; fetchedAtMs: number }>();
  let generation = 0;
  let listening = false;
  let closed = false;
  let listener: pg.Client | undefined;
  let starting: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;

  const forgetAll = () => {
    generation += 1;
    entries.clear();
  };
  localChangeListeners.add(forgetAll);

  const listenerLost = (error: Error) => {
    if (listener === undefined) return;
    listener.removeAllListeners();
    listener.on('error', () => undefined);
    listener.end().catch(() => undefined);
    listener = undefined;
    listening = false;
    forgetAll();
    if (closed) return;
    options.onListenerError?.(error);
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      starting = undefined;
    }, reconnectDelayMs);
    retryTimer.unref();
  };

  // Started by the first lookup, so a process that never authenticates a request (the CLI)
  // never opens the extra connection.
  const startListening = () => {
    if (starting || closed) return;
    const client = listenerClientOf(options);
    listener = client;
    starting = (async () => {
      client.on('error', listenerLost);
      client.on('end', () => listenerLost(new Error('LISTEN connection closed')));
      client.on('notification', forgetAll);
      await client.connect();
      if (listener === client) await client.query(`LISTEN ${merchantChangeChannel}`);
      // Closed (or failed) while connecting: this client is nobody's any more.
      if (listener !== client) {
        await client.end().catch(() => undefined);
        return;
      }
      forgetAll();
      listening = true;
    })().catch((error: Error) => {
      if (listener === client) listenerLost(error);
    });
  };

  return {
    get caching() { return listening; },
    listen: startListening,
    async byClientKey(clientKey) {
      startListening();
      const nowMs = Date.now();
      const cached = listening ? entries.get(clientKey) : undefined;
      if (cached && nowMs - cached.fetchedAtMs < maxAgeMs) return cached.merchant;
      const generationBefore = generation;
      const merchant = await findMerchantByClientKey(db, clientKey);
      if (merchant && listening && generation === generationBefore) {
        if (entries.size >= entriesMax) entries.clear();
        entries.set(clientKey, { merchant, fetchedAtMs: nowMs });
      }
      return merchant;
    },
    async close() {
      closed = true;
      localChangeListeners.delete(forgetAll);
      if (retryTimer) clearTimeout(retryTimer);
      const client = listener;
      listener = undefined;
      listening = false;
      entries.clear();
      if (client) {
        client.removeAllListeners();
        client.on('error', () => undefined);
        await client.end().catch(() => undefined);
      }
    },
  };
}
