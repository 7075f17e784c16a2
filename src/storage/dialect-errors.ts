/** The one place that knows how each driver reports a unique-key violation (or the
 * one-open-payment-per-order trigger, which reports itself as one). */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
    || code === 'SQLITE_CONSTRAINT_TRIGGER';
}
