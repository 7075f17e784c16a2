import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database } from './schema.ts';

export interface WriteOptions {
  /**
   * false: the commit need not wait for the disk (docs/adr/0103). Only for a write that finishes
   * a claim committed durably before the bank was asked: the outcome is in the WAL (a crash of
   * Kassa keeps it) and on disk with the next commit that waits, and a power loss before that
   * leaves the durable claim, which the reconciler finishes by asking the bank again.
   */
  waitForDisk?: boolean;
}

/** Most writes committed together: bounds the work one commit (and one failure) can carry. */
const batchSizeMax = 64;

interface PendingWrite {
  work: (transaction: Transaction<Database>) => Promise<unknown>;
  waitForDisk: boolean;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for SQLite. With `synchronous=FULL` every commit waits for the disk (fsync), and
 * the profile showed that wait as most of a SALE. Writes that arrive while one is in progress
 * are queued and committed together: each runs inside its own SAVEPOINT, so one that fails
 * (a duplicate key, say) is rolled back alone and rejected alone, and none is answered before
 * the commit that holds it is on disk. PostgreSQL needs none of this (its connections commit
 * in parallel), so there every write is its own transaction.
 */
export class WriteBatcher {
  readonly #queue: PendingWrite[] = [];
  #flushing = false;

  constructor(private readonly db: Kysely<Database>) {}

  run<T>(work: (transaction: Transaction<Database>) => Promise<T>, options: WriteOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waitForDisk = options.waitForDisk !== false;
      this.#queue.push({ work, waitForDisk, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        // Let requests already waiting in the event loop reach their write first, so they
        // join this commit instead of each paying for their own.
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, batchSizeMax);
        await this.#commit(batch);
      }
    } finally {
      this.#flushing = false;
    }
  }

  /** A batch waits for the disk unless every write in it may skip that. SQLite takes the
   * setting only between transactions, so the connection is held from the PRAGMA that lowers
   * it to the one that restores it: no other transaction can begin in between. */
  async #commit(batch: PendingWrite[]): Promise<void> {
    if (batch.some((write) => write.waitForDisk)) return this.#commitOn(this.db, batch);
    try {
      await this.db.connection().execute(async (connection) => {
        await sql`PRAGMA synchronous = NORMAL`.execute(connection);
        try {
          await this.#commitOn(connection, batch);
        } finally {
          await sql`PRAGMA synchronous = FULL`.execute(connection);
        }
      });
    } catch (error) {
      for (const write of batch) write.reject(error);
    }
  }

  async #commitOn(db: Kysely<Database>, batch: PendingWrite[]): Promise<void> {
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      const transaction = await db.startTransaction().execute();
      try {
        for (const write of batch) {
          const savepoint = await transaction.savepoint('write').execute();
          try {
            outcomes.push({ ok: true, value: await write.work(savepoint) });
            await savepoint.releaseSavepoint('write').execute();
          } catch (error) {
            await savepoint.rollbackToSavepoint('write').execute();
            await savepoint.releaseSavepoint('write').execute();
            outcomes.push({ ok: false, error });
          }
        }
        await transaction.commit().execute();
      } catch (error) {
        await transaction.rollback().execute().catch(() => undefined);
        throw error;
      }
    } catch (error) {
      // The commit itself failed: nothing in this batch happened.
      for (const write of batch) write.reject(error);
      return;
    }
    batch.forEach((write, index) => {
      const outcome = outcomes[index];
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.error);
    });
  }
}
