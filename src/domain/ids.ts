import { v7 as uuidv7 } from 'uuid';

/** Transaction ids are UUIDs (the spec's format) of version 7, so they sort by creation time
 * and index well. */
export function newTransactionId(nowMs: number): string {
  return uuidv7({ msecs: nowMs });
}

export function newId(nowMs: number): string {
  return uuidv7({ msecs: nowMs });
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(text: string): boolean {
  return uuidPattern.test(text);
}
