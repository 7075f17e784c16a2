import type { OutboxRow } from './payments.ts';

/**
 * An in-process wake-up for the callback dispatcher: the storage functions that commit callback
 * rows call `callbacksCommitted` after their commit, and a running dispatcher claims at once
 * instead of at its next poll (up to KASSA_CALLBACK_POLL_MS later). Rows written by another
 * process or node are still found by the poll. Rows written already failed (a merchant without
 * a callback URL) wake nobody: under load that would be a claim per payment for nothing.
 */
type Listener = () => void;
const listeners = new Set<Listener>();

export function onCallbacksCommitted(listener: Listener): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

export function callbacksCommitted(rows: readonly OutboxRow[]): void {
  if (listeners.size === 0 || !rows.some((row) => row.failed_at_ms == null)) return;
  for (const listener of listeners) listener();
}
