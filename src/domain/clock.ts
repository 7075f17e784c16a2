/** Domain code takes `now` from a clock it is given, never from `Date.now()`, so tests and the
 * sandbox can move time instead of sleeping. */
export interface Clock {
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

/** A clock that runs with real time plus an offset the operator can move forward. */
export class AdjustableClock implements Clock {
  #offsetMs = 0;
  constructor(private readonly base: Clock = systemClock) {}
  nowMs(): number {
    return this.base.nowMs() + this.#offsetMs;
  }
  advance(durationMs: number): void {
    if (!Number.isFinite(durationMs) || durationMs < 0) throw new RangeError('clock moves forward only');
    this.#offsetMs += durationMs;
  }
}

/** A clock that stands still until told to move: for deterministic tests. */
export class FixedClock implements Clock {
  constructor(private currentMs: number) {}
  nowMs(): number {
    return this.currentMs;
  }
  set(ms: number): void {
    this.currentMs = ms;
  }
  advance(durationMs: number): void {
    this.currentMs += durationMs;
  }
}
