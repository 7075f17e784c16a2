import { randomFillSync } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

/**
 * Ids are UUIDs (the spec's format for trans_id) of version 7: they sort by creation time, and
 * within one process strictly in creation order even inside one millisecond (a counter, as RFC
 * 9562 §6.2 allows), so sub-transactions created in the same millisecond keep their order.
 */
const state = { msecs: -Infinity, seq: 0 };

/** Random bytes for ids, cut 16 at a time from a pool the CSPRNG refills (as uuid itself does
 * when it picks them): a randomBytes(4) call per new millisecond for the counter's start was
 * ~1% of a SALE's CPU. Each id takes its own 16 bytes; the counter's start is read from bytes
 * 6–9 of them, which the id's layout replaces with the counter. */
const randomPoolBytes = 16 * 256;
const randomPool = Buffer.alloc(randomPoolBytes);
let randomOffset = randomPoolBytes;

function nextRandom(): Buffer {
  if (randomOffset + 16 > randomPoolBytes) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  const bytes = randomPool.subarray(randomOffset, randomOffset + 16);
  randomOffset += 16;
  return bytes;
}

export function newId(nowMs: number): string {
  const random = nextRandom();
  if (nowMs > state.msecs) {
    state.msecs = nowMs;
    // Start each millisecond at a random point in the lower half, leaving room to count up.
    state.seq = random.readUInt32BE(6) >>> 2;
  } else {
    state.seq = (state.seq + 1) >>> 0;
    if (state.seq === 0) state.msecs += 1;
  }
  return uuidv7({ msecs: state.msecs, seq: state.seq, random });
}

export const newTransactionId = newId;

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(text: string): boolean {
  return uuidPattern.test(text);
}
