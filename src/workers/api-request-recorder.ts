import { newId } from '../domain/ids.ts';
import type { Clock } from '../domain/clock.ts';
import { insertApiRequests, pruneApiRequests, type ApiRequestRow } from '../storage/api-requests.ts';
import type { Storage } from '../storage/database.ts';

/** What the HTTP edge knows of one answered API request (no request field but ids). */
export type ApiRequestEntry = Omit<ApiRequestRow, 'entry_id' | 'created_at_ms'>;

/**
 * The sandbox's record of merchants' API requests for `kassa logs tail` (docs/adr/0079). The
 * request path only pushes an object into a bounded buffer; a timer writes the buffer in one
 * insert every `flushMs` and forgets entries older than `keepMs`. Off the request's transaction
 * by design: a crash may lose the last quarter second of a developer's log, never a payment.
 */
export class ApiRequestRecorder {
  static readonly bufferMax = 5_000;
  readonly #storage: Storage;
  readonly #clock: Clock;
  readonly #flushMs: number;
  readonly #keepMs: number;
  #buffer: ApiRequestRow[] = [];
  #timer: NodeJS.Timeout | undefined;
  #lastPruneMs = 0;
  #flushing: Promise<void> = Promise.resolve();

  constructor(storage: Storage, clock: Clock, options: { flushMs?: number; keepMs?: number } = {}) {
    this.#storage = storage;
    this.#clock = clock;
    this.#flushMs = options.flushMs ?? 250;
    this.#keepMs = options.keepMs ?? 24 * 60 * 60 * 1000;
  }

  record(entry: ApiRequestEntry): void {
    if (this.#buffer.length >= ApiRequestRecorder.bufferMax) return;
    const nowMs = this.#clock.nowMs();
    this.#buffer.push({ entry_id: newId(nowMs), created_at_ms: nowMs, ...entry });
  }

  /** Writes what is buffered (and prunes once a minute); one flush at a time. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing
      .then(async () => {
        const rows = this.#buffer;
        this.#buffer = [];
        await insertApiRequests(this.#storage, rows);
        const nowMs = this.#clock.nowMs();
        if (nowMs - this.#lastPruneMs >= 60_000) {
          this.#lastPruneMs = nowMs;
          await pruneApiRequests(this.#storage, nowMs - this.#keepMs);
        }
      })
      .catch(() => {});
    return this.#flushing;
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.flush(), this.#flushMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }
}
