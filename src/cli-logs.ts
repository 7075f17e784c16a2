import type { Clock } from './domain/clock.ts';
import { formatTransDate } from './domain/dates.ts';
import { parseDuration } from './domain/durations.ts';
import { apiRequestsSince, type ApiRequestRow } from './storage/api-requests.ts';
import type { Storage } from './storage/database.ts';

/**
 * `kassa logs tail` (docs/adr/0079): a merchant's API requests as the sandbox records them —
 * action, answer, error code and message, the names of refused fields; never a request value that
 * could carry card data (none is recorded). Polls `api_requests` every --poll-ms with a look-back
 * and a bounded seen-set, as `kassa listen` polls the outbox (several nodes flush out of order).
 */
export class LogsInputError extends Error {}

const lookBackMs = 10_000;
const seenMax = 10_000;

function wholeNumber(text: unknown, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (typeof text !== 'string' || !/^\d{1,9}$/.test(text)) throw new LogsInputError(`--${name} takes a whole number`);
  return Number(text);
}

function asText(row: ApiRequestRow, timeZone: string): string {
  const head =
    `${formatTransDate(row.created_at_ms, timeZone)}  ${row.method} ${row.path}  ${row.action ?? '-'}  `
    + `${row.result}${row.status ? ` ${row.status}` : ''}`;
  const error =
    row.error_code === null
      ? ''
      : `  ${row.error_code} ${row.error_message ?? ''}`
        + `${row.invalid_fields ? ` (${(JSON.parse(row.invalid_fields) as string[]).join(', ')})` : ''}`;
  const trans = row.trans_id ? `  trans ${row.trans_id}` : '';
  const ids = `${trans}  ${row.duration_ms} ms  client ${row.client_key ?? '-'}`;
  return `${head}${error}${ids}  req ${row.request_id}\n`;
}

export async function logsCommand(
  io: { stdout(text: string): void },
  verb: string,
  values: Record<string, unknown>,
  dependencies: { storage: Storage; clock: Clock; timeZone: string; sandbox: boolean },
): Promise<number> {
  if (verb !== 'tail') throw new LogsInputError(`unknown command: logs ${verb}`);
  if (!dependencies.sandbox) throw new LogsInputError('API requests are recorded in sandbox mode only');
  const maxCount = wholeNumber(values['max-count'], 'max-count');
  const forMs = wholeNumber(values['for-ms'], 'for-ms');
  const pollMs = wholeNumber(values['poll-ms'], 'poll-ms') ?? 200;
  let sinceMs = dependencies.clock.nowMs();
  if (values.since !== undefined) {
    const back = parseDuration(String(values.since));
    if (back === undefined)
      throw new LogsInputError('--since takes a duration: a number and s, m, h, d or w (e.g. 10m)');
    sinceMs -= back;
  }
  const clientKey = typeof values['client-key'] === 'string' ? values['client-key'] : undefined;
  const onlyErrors = values.errors === true;
  const seen = new Set<string>();
  const deadline = forMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + forMs;
  let shown = 0;
  let stopped = false;
  const stop = () => {
    stopped = true;
  };
  process.once('SIGINT', stop);
  try {
    if (values.json !== true) io.stdout('tailing API requests (Ctrl-C to stop)\n');
    while (!stopped && performance.now() < deadline && (maxCount === undefined || shown < maxCount)) {
      const rows = await apiRequestsSince(dependencies.storage, sinceMs, 500, clientKey);
      for (const row of rows) {
        if (seen.has(row.entry_id) || (onlyErrors && row.result !== 'ERROR')) continue;
        if (seen.size >= seenMax) seen.clear();
        seen.add(row.entry_id);
        io.stdout(values.json === true ? `${JSON.stringify(row)}\n` : asText(row, dependencies.timeZone));
        shown += 1;
        if (maxCount !== undefined && shown >= maxCount) break;
      }
      const newest = rows.at(-1)?.created_at_ms;
      if (newest !== undefined) sinceMs = Math.max(sinceMs, newest - lookBackMs);
      if (maxCount !== undefined && shown >= maxCount) break;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  } finally {
    process.removeListener('SIGINT', stop);
  }
  return 0;
}
