import { userInfo } from 'node:os';
import type { CliIo } from './cli.ts';
import type { Clock } from './domain/clock.ts';
import {
  auditEntries,
  ConsoleInputError,
  consoleUsers,
  createConsoleUser,
  recordAudit,
  type Actor,
} from './operations/console-accounts.ts';
import type { Storage } from './storage/database.ts';

/** `kassa operator …` and `kassa audit …`: the console's accounts and its audit log (src/console). */

export const consoleUsage = `  kassa operator create --email EMAIL --role administrator|support|viewer [--json]
  kassa operator create --email EMAIL --role merchant --merchant CLIENT_KEY [--json]
                                             a console account; its password is generated and shown once
  kassa operator list [--json]               console accounts
  kassa audit list [--limit N] [--json]      the audit log, newest first (console and CLI changes)`;

/** Options of these commands, to merge into the CLI's parseArgs table. */
export const consoleOptions = {
  role: { type: 'string' },
  merchant: { type: 'string' },
} as const;

export const consoleAreas = ['operator', 'audit'] as const;

export { ConsoleInputError };

/** The CLI as an actor of the audit log: who ran it, as the operating system says. */
export function cliActor(environment: NodeJS.ProcessEnv): Actor {
  let name = environment.USER ?? environment.LOGNAME;
  try {
    name ??= userInfo().username;
  } catch {
    name ??= 'unknown';
  }
  return { name: `cli:${name}`, role: 'cli' };
}

interface ConsoleValues {
  email?: string;
  role?: string;
  merchant?: string;
  limit?: string;
  json?: boolean;
}

export async function consoleCommand(
  io: CliIo,
  area: string,
  verb: string,
  values: ConsoleValues,
  storage: Storage,
  clock: Clock,
): Promise<number> {
  const asJson = values.json === true;
  const out = (value: unknown, text: string) => io.stdout(asJson ? `${JSON.stringify(value)}\n` : text);
  if (area === 'operator' && verb === 'create') {
    if (!values.email) throw new ConsoleInputError('--email is required');
    if (!values.role) throw new ConsoleInputError('--role is required');
    const { user, password } = await createConsoleUser({ storage, clock }, cliActor(io.environment), {
      email: values.email,
      role: values.role,
      merchantClientKey: values.merchant,
    });
    out(
      { email: user.email, role: user.role, merchant_id: user.merchantId, password },
      `email          ${user.email}\nrole           ${user.role}\npassword       ${password}\n`
        + '(the password is shown once: hand it over now)\n',
    );
    return 0;
  }
  if (area === 'operator' && verb === 'list') {
    const users = await consoleUsers(storage);
    out(
      users,
      users.map((user) => `${user.email}  ${user.role}${user.merchantId ? `  ${user.merchantId}` : ''}\n`).join(''),
    );
    return 0;
  }
  if (area === 'audit' && verb === 'list') {
    const limit = values.limit === undefined ? 100 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new ConsoleInputError('--limit is 1–500');
    const entries = await auditEntries(storage, { limit });
    out(
      entries,
      entries
        .map((entry) => `${new Date(entry.atMs).toISOString()}  ${entry.actor}  ${entry.action}  ${entry.target}\n`)
        .join(''),
    );
    return 0;
  }
  throw new ConsoleInputError(`unknown command: ${area} ${verb}`);
}

/** Commands that change nothing, left out of the audit log. */
const readOnlyVerbs = new Set(['list', 'show', 'blocked', 'help', 'tail']);

/** Options never written to the audit log even when given (none carries card data today). */
const unloggedOptions = new Set(['json', 'init', 'help']);

/**
 * The CLI's hook into the audit log: every command that succeeded and may have changed something
 * is recorded with the options it was given. Operator-console changes are recorded by their own
 * code with before and after; the CLI's commands print their result instead.
 */
export async function auditCliCommand(
  storage: Storage,
  clock: Clock,
  environment: NodeJS.ProcessEnv,
  command: { area: string; verb: string; argument?: string; values: Record<string, unknown> },
): Promise<void> {
  if (readOnlyVerbs.has(command.verb) || ['operator', 'audit', 'listen'].includes(command.area)) return;
  const options = Object.fromEntries(Object.entries(command.values).filter(([name]) => !unloggedOptions.has(name)));
  await recordAudit(storage, clock, cliActor(environment), {
    action: `cli ${command.area} ${command.verb}`,
    target: String(
      command.values['client-key']
        ?? command.values['trans-id']
        ?? command.values.url
        ?? command.values['outbox-id']
        ?? command.values['application-id']
        ?? command.argument
        ?? command.area,
    ),
    after: { ...options, ...(command.argument ? { argument: command.argument } : {}) },
  });
}
