import { randomBytes } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

/**
 * Ids are UUIDs (the spec's format for trans_id) of version 7: they sort by creation time, and
 * within one process strictly in creation order even inside one millisecond (a counter, as RFC
 * 9562 §6.2 allows), so sub-transactions created in the same millisecond keep their order.
 */
const state = { msecs: -Infinity, seq: 0 };

export function newId(nowMs: number): string {
  if (nowMs > state.msecs) {
    state.msecs = nowMs;
    // Start each millisecond at a random point in the lower half, leaving room to count up.
    state.seq = randomBytes(4).readUInt32BE() >>> 2;
  } else {
    state.seq = (state.seq + 1) >>> 0;
    if (state.seq === 0) state.msecs += 1;
  }
  return uuidv7({ msecs: state.msecs, seq: state.seq });
}

export const newTransactionId = newId;

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(text: string): boolean {
  return uuidPattern.test(text);
}
