const unavailableCodes = new Set([
  // node-postgres / the socket: nothing listens, the server went away, a connection timed out.
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'KASSA_READ_ONLY_HOST',
  // PostgreSQL: shutting down or starting (57P0x), a read-only standby (25006).
  '57P01', '57P02', '57P03', '25006',
  // SQLite: disk full, I/O failure, the file became read-only.
  'SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_READONLY', 'SQLITE_CANTOPEN',
]);
const unavailableMessages = new RegExp('^(Connection terminated|timeout exceeded when trying to connect'
  + '|Client has encountered a connection error)');

/** The database cannot be reached or written just now (docs/adr/0065): answered 900503 rather than
 * as an internal failure. PostgreSQL connection failures (class 08), SQLite's I/O family. */
export function isStorageUnavailable(error: unknown): boolean {
  for (let cause = error, depth = 0; cause && depth < 4; cause = (cause as { cause?: unknown }).cause, depth += 1) {
    const code = String((cause as { code?: unknown }).code ?? '');
    if (unavailableCodes.has(code) || code.startsWith('08') || code.startsWith('SQLITE_IOERR')) return true;
    if (unavailableMessages.test(String((cause as { message?: unknown }).message ?? ''))) return true;
  }
  return false;
}

/** The one place that knows how each driver reports a unique-key violation (or the
 * one-open-payment-per-order trigger, which reports itself as one). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
    || code === 'SQLITE_CONSTRAINT_TRIGGER';
}
