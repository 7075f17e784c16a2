import { LockoutInputError, liftLockout, listLockouts, type LockoutView } from './operations/hash-lockouts.ts';
import type { Storage } from './storage/database.ts';

export const lockoutsUsage = `  kassa lockouts list [--client-key KEY] [--json]   (merchant, IP) pairs with wrong hashes
  kassa lockouts lift --client-key KEY --ip IP       lift the pair's wrong-hash lock and forget its count`;

/** Options of `kassa lockouts`, to merge into the CLI's parseArgs table. */
export const lockoutsOptions = {
  'client-key': { type: 'string' },
  ip: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export { LockoutInputError };

export interface LockoutValues {
  'client-key'?: string;
  ip?: string;
  json?: boolean;
}

export interface LockoutsIo {
  stdout: (text: string) => void;
}

function asText(views: LockoutView[]): string {
  if (views.length === 0) return 'no (merchant, IP) pair is counting wrong hashes or locked\n';
  return views.map((view) => {
    const lock = view.lockedUntilMs > 0 ? `locked until ${new Date(view.lockedUntilMs).toISOString()}` : 'not locked';
    const since = new Date(view.windowStartedAtMs).toISOString();
    return `${view.clientKey}  ${view.ip}  ${view.wrongHashes} wrong since ${since}  ${lock}\n`;
  }).join('');
}

/** `kassa lockouts list|lift`: thin, the use cases are in operations/hash-lockouts.ts. Input
 * problems throw LockoutInputError (exit status 2, one line, as the other commands). */
export async function lockoutsCommand(
  verb: string, values: LockoutValues, storage: Storage, io: LockoutsIo,
): Promise<number> {
  if (verb === 'list') {
    const views = await listLockouts(storage, { clientKey: values['client-key'] });
    io.stdout(values.json ? `${JSON.stringify(views)}\n` : asText(views));
    return 0;
  }
  if (verb === 'lift') {
    if (!values['client-key']) throw new LockoutInputError('--client-key is required');
    if (!values.ip) throw new LockoutInputError('--ip is required');
    const lifted = await liftLockout(storage, values['client-key'], values.ip);
    const text = lifted ? `lifted: ${values.ip} may send requests for ${values['client-key']} again`
      : `nothing to lift: ${values.ip} has no wrong hashes on record for ${values['client-key']}`;
    io.stdout(values.json ? `${JSON.stringify({ lifted })}\n` : `${text}\n`);
    return 0;
  }
  io.stdout(`${lockoutsUsage}\n`);
  return 2;
}
