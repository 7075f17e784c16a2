import { sql } from 'kysely';
import { systemClock, type Clock } from '../domain/clock.ts';
import type { Storage } from './database.ts';

/** The settings row holding how far the sandbox clock is ahead of real time. */
export const clockOffsetSetting = 'sandbox_clock_offset_ms';

export async function readClockOffset(storage: Storage): Promise<number> {
  const row = await storage.db.selectFrom('settings').select('value').where('name', '=', clockOffsetSetting).executeTakeFirst();
  return row ? Number(row.value) : 0;
}

/**
 * Moves the sandbox clock forward for every process on this database (server nodes and CLI):
 * one upsert that adds to the stored offset, so two operators advancing at once add up.
 * Forward only. Returns the new offset.
 */
export async function advanceClockOffset(storage: Storage, durationMs: number, nowMs: number): Promise<number> {
  if (!Number.isSafeInteger(durationMs) || durationMs <= 0) throw new RangeError('the sandbox clock moves forward only');
  const add = storage.dialect === 'postgres'
    ? sql`(settings.value::bigint + ${durationMs}::bigint)::text`
    : sql`CAST(CAST(settings.value AS INTEGER) + ${durationMs} AS TEXT)`;
  const row = await storage.db.insertInto('settings')
    .values({ name: clockOffsetSetting, value: String(durationMs), updated_at_ms: nowMs })
    .onConflict((conflict) => conflict.column('name').doUpdateSet({ value: add as never, updated_at_ms: nowMs }))
    .returning('value')
    .executeTakeFirstOrThrow();
  return Number(row.value);
}

/**
 * The clock of a sandbox: real time (or the base clock) plus the offset stored in the database.
 * nowMs() must stay synchronous and cheap, so the offset is cached and re-read in the
 * background at most every `cacheMs` of real time; a CLI `kassa clock advance` reaches every
 * node within that. refresh() reads it at once (the scheduler does before each run, the
 * operator endpoint after a move).
 */
export class SandboxClock implements Clock {
  #offsetMs = 0;
  #readAtMs = Number.NEGATIVE_INFINITY;
  #reading: Promise<void> | undefined;
  #closed = false;

  constructor(private readonly storage: Storage, private readonly base: Clock = systemClock, private readonly cacheMs = 1_000) {}

  nowMs(): number {
    if (!this.#closed && performance.now() - this.#readAtMs > this.cacheMs) void this.refresh().catch(() => undefined);
    return this.base.nowMs() + this.#offsetMs;
  }

  get offsetMs(): number {
    return this.#offsetMs;
  }

  async refresh(): Promise<void> {
    this.#reading ??= readClockOffset(this.storage)
      .then((offsetMs) => {
        // Forward only, also if an older read finishes after a newer one.
        this.#offsetMs = Math.max(this.#offsetMs, offsetMs);
        this.#readAtMs = performance.now();
      })
      .finally(() => {
        this.#reading = undefined;
      });
    await this.#reading;
  }

  /** No background reads after the database is closed. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#reading?.catch(() => undefined);
  }
}
