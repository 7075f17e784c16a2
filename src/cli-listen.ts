import type { Clock } from './domain/clock.ts';
import { formatTransDate } from './domain/dates.ts';
import { watchCallbacks, type CallbackEvent } from './operations/watch-callbacks.ts';
import type { Vault } from './security/vault.ts';
import type { Storage } from './storage/database.ts';

/** `kassa listen`: thin over operations/watch-callbacks.ts. */
export const listenUsage = `  kassa listen [--client-key KEY] [--forward-to URL] [--json] [--max-count N] [--for-ms MS]
                         shows every callback as it is committed (fields, signature), each
                         delivery attempt with the merchant's answer, and posts a signed copy to
                         --forward-to (your local receiver). Runs until Ctrl-C.`;

export const listenOptions = {
  'forward-to': { type: 'string' },
  'max-count': { type: 'string' },
  'for-ms': { type: 'string' },
  'poll-ms': { type: 'string' },
} as const;

export class ListenInputError extends Error {}

interface ListenValues {
  'client-key'?: string;
  'forward-to'?: string;
  'max-count'?: string;
  'for-ms'?: string;
  'poll-ms'?: string;
  json?: boolean;
}

function wholeNumber(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text)) throw new ListenInputError(`--${name} takes a whole number, got "${text}"`);
  return Number(text);
}

function forwardUrl(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (!/^https?:\/\/[^\s]+$/.test(text)) throw new ListenInputError(`--forward-to takes an http(s) URL, got "${text}"`);
  return text;
}

function asText(event: CallbackEvent, timeZone: string): string {
  if (event.kind === 'listening') return 'listening for callbacks (Ctrl-C to stop)\n';
  if (event.kind === 'forwarded') {
    return event.error
      ? `  forwarded → ${event.url}: failed, ${event.error}\n`
      : `  forwarded → ${event.url}: HTTP ${event.statusCode} ${JSON.stringify(event.answer)}`
        + ` in ${event.durationMs} ms\n`;
  }
  if (event.kind === 'attempt') {
    const answer =
      event.statusCode === null
        ? (event.answer ?? '')
        : `HTTP ${event.statusCode} ${JSON.stringify(event.answer ?? '')}`;
    return `  attempt → ${event.url}: ${event.outcome}, ${answer} in ${event.durationMs} ms (trans ${event.transId})\n`;
  }
  const { fields } = event;
  const head =
    `${formatTransDate(event.committedAtMs, timeZone)}  ${fields.action} ${fields.result} ${fields.status ?? ''}`
    + `  trans ${event.transId}  order ${fields.order_id}`;
  const signature = event.signed
    ? `hash ${fields.hash} (${event.verified ? 'verifies' : 'does NOT verify'})`
    : 'not signed: the payment is missing';
  const lines = [
    head,
    `  fields: ${Object.entries(fields)
      .filter(([name]) => name !== 'hash')
      .map(([name, value]) => `${name}=${typeof value === 'object' ? JSON.stringify(value) : value}`)
      .join(' ')}`,
    `  ${signature}; merchant URL ${event.callbackUrl || '(none)'}`,
  ];
  return `${lines.join('\n')}\n`;
}

export async function listenCommand(
  io: { stdout(text: string): void },
  values: ListenValues,
  dependencies: { storage: Storage; vault: Vault; clock: Clock; timeZone: string },
): Promise<number> {
  const options = {
    clientKey: values['client-key']?.toLowerCase(),
    forwardTo: forwardUrl(values['forward-to']),
    maxCallbacks: wholeNumber(values['max-count'], 'max-count'),
    durationMs: wholeNumber(values['for-ms'], 'for-ms'),
    // 25 ms: a callback shows well within 100 ms of its commit.
    pollIntervalMs: wholeNumber(values['poll-ms'], 'poll-ms') ?? 25,
  };
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  try {
    await watchCallbacks(dependencies, { ...options, signal: controller.signal }, (event) => {
      io.stdout(values.json === true ? `${JSON.stringify(event)}\n` : asText(event, dependencies.timeZone));
    });
  } finally {
    process.removeListener('SIGINT', stop);
  }
  return 0;
}
