import { Command, CommanderError, Option } from 'commander';
import { kassaVersion } from './version.ts';

/**
 * The `kassa` command tree on commander (docs/adr/0077): every command with its own options, so
 * `--help` is per command, an option where it does not belong is refused, and "unknown command",
 * "unknown option" and "missing value" are answered with exit status 2. Parsing only: the
 * parsed command is handed back to cli.ts, which runs it as before (`values` keyed by the long
 * option names, as node:util parseArgs gave them). `kassa routing …` keeps its own parser.
 */
export interface ParsedCommand {
  area: string;
  verb?: string;
  /** Positional arguments after the verb (clock advance DURATION, hash's field=value …). */
  rest: string[];
  values: Record<string, string | string[] | boolean | undefined>;
}

/** [flags, description, multiple?]: the option table of one command. */
type OptionSpec = readonly [string, string, 'multiple'?];

const json: OptionSpec = ['--json', 'print JSON'];
const init: OptionSpec = ['--init', 'create the database and key in KASSA_DATA_DIR if there are none yet'];
const clientKey: OptionSpec = ['--client-key <key>', "the merchant's CLIENT_KEY"];
const limit: OptionSpec = ['--limit <n>', 'at most N rows'];
const transId: OptionSpec = ['--trans-id <id>', "the payment's trans_id"];

const merchantSettings: readonly OptionSpec[] = [
  ['--callback-url <url>', 'where callbacks are sent (≤ 255 characters)'],
  [
    '--allow-ip <ip|cidr>',
    'an address or range requests may come from (repeat; default 127.0.0.1 and ::1)',
    'multiple',
  ],
  ['--channel <id>', 'a channel_id the merchant may use (repeat)', 'multiple'],
  ['--three-ds <on|off>', '3-D Secure (on by default when --callback-url is given)'],
  ['--s2s-card <on|off>', 'S2S CARD enabled (on by default)'],
  ['--descriptor <text>', "the descriptor on the cardholder's statement"],
  ['--hash-mode <md5|sha256>', 'sign every formula with md5 (default) or sha256 (5.6.x)'],
  ['--unknown-result <success|undefined>', 'an unknown bank outcome: SUCCESS (5.2.0, default) or UNDEFINED (5.6.x)'],
  ['--frame-origin <origin>', 'a shop origin that may frame the hosted page (repeat)', 'multiple'],
  ['--refund-days <n>', 'business days a refund application may take'],
  ['--holiday <date>', 'a non-business day, YYYY-MM-DD (repeat)', 'multiple'],
];
const email: OptionSpec = ['--email <email>', "the merchant's contact e-mail"];

interface CommandSpec {
  verb?: string;
  summary: string;
  /** commander argument syntax, e.g. `<duration>` or `[fields...]`. */
  args?: readonly string[];
  options: readonly OptionSpec[];
}

interface AreaSpec {
  area: string;
  summary: string;
  commands: readonly CommandSpec[];
}

const areaSpecs: readonly AreaSpec[] = [
  {
    area: 'merchant',
    summary: 'merchants: create, import, update, list',
    commands: [
      {
        verb: 'create',
        summary: 'a new merchant; its PASSWORD is generated and shown once',
        options: [email, ...merchantSettings, json, init],
      },
      {
        verb: 'import',
        summary: 'a merchant from another platform of the family, keeping its CLIENT_KEY and PASSWORD',
        options: [
          clientKey,
          ['--password-file <file>', 'a file holding the PASSWORD'],
          email,
          ...merchantSettings,
          json,
          init,
        ],
      },
      {
        verb: 'update',
        summary: "change a merchant's settings",
        options: [clientKey, email, ...merchantSettings, json, init],
      },
      { verb: 'list', summary: 'every merchant', options: [json, init] },
    ],
  },
  {
    area: 'payments',
    summary: "payments: list with the console's filters, show one",
    commands: [
      {
        verb: 'list',
        summary: 'payments newest first, 50 a page',
        options: [
          transId,
          ['--order-id <id>', "the merchant's order_id"],
          ['--card <digits>', 'first 6, last 4, or both (10 digits)'],
          ['--status <status>', 'SETTLED, PENDING, DECLINED, 3DS …'],
          clientKey,
          ['--amount <amount>', 'major units, e.g. 1.99'],
          ['--from <date>', 'created on or after YYYY-MM-DD'],
          ['--to <date>', 'created on or before YYYY-MM-DD'],
          ['--after <cursor>', 'the next page (printed at the end of a page)'],
          json,
          init,
        ],
      },
      {
        verb: 'show',
        summary: 'one payment: amounts, card (first 6 / last 4), sub-transactions, callbacks',
        args: ['<trans-id>'],
        options: [json, init],
      },
    ],
  },
  {
    area: 'refund-applications',
    summary: "cardholders' refund applications",
    commands: [
      {
        verb: 'list',
        summary: 'applications, newest first',
        options: [
          ['--status <status>', 'received, approved or rejected'],
          ['--overdue', 'only those past their deadline'],
          clientKey,
          limit,
          json,
          init,
        ],
      },
      {
        verb: 'approve',
        summary: 'refund the amount asked (CREDITVOID)',
        options: [['--application-id <id>', 'the application'], ['--note <text>', 'a note'], json, init],
      },
      {
        verb: 'reject',
        summary: 'refuse; the note says why, for the cardholder',
        options: [['--application-id <id>', 'the application'], ['--note <text>', 'why'], json, init],
      },
    ],
  },
  {
    area: 'callbacks',
    summary: 'the outbox: list, resend, blocked URLs',
    commands: [
      {
        verb: 'list',
        summary: 'callbacks and their attempts',
        options: [transId, ['--status <state>', 'pending, delivered or failed'], limit, json, init],
      },
      {
        verb: 'resend',
        summary: 'queue a callback again now (delivered or failed too)',
        options: [['--outbox-id <id>', 'the callback'], json, init],
      },
      { verb: 'blocked', summary: 'URLs blocked after 5 consecutive failures', options: [json, init] },
      {
        verb: 'unblock',
        summary: "lift a URL's block at once",
        options: [['--url <url>', 'the blocked URL'], json, init],
      },
    ],
  },
  {
    area: 'clock',
    summary: 'the sandbox clock',
    commands: [
      { verb: 'show', summary: 'the sandbox time (real time + stored offset)', options: [json, init] },
      {
        verb: 'advance',
        summary: 'move the sandbox clock forward for every node: 30d, 12h, 90m, 2w',
        args: ['<duration>'],
        options: [json, init],
      },
    ],
  },
  {
    area: 'chargeback',
    summary: "an issuer's chargeback",
    commands: [
      {
        verb: 'create',
        summary: "an issuer's chargeback of a SETTLED payment; the merchant gets its callback",
        options: [
          transId,
          ['--reason-code <code>', "the issuer's reason code"],
          ['--amount <amount>', 'major units, e.g. 5.00 (default: all)'],
          ['--bank-date <date>', 'YYYY-MM-DD'],
          json,
          init,
        ],
      },
    ],
  },
  {
    area: 'lockouts',
    summary: 'wrong-hash lockouts',
    commands: [
      { verb: 'list', summary: '(merchant, IP) pairs with wrong hashes', options: [clientKey, json, init] },
      {
        verb: 'lift',
        summary: "lift the pair's wrong-hash lock and forget its count",
        options: [clientKey, ['--ip <ip>', 'the address'], json, init],
      },
    ],
  },
  {
    area: 'reconciliation',
    summary: 'operations whose bank outcome is unknown',
    commands: [
      {
        verb: 'list',
        summary: 'those past the deadline',
        options: [['--all', 'every one being reconciled'], json, init],
      },
      {
        verb: 'resolve',
        summary: 'write the outcome you got from the bank (sends the callback)',
        options: [
          transId,
          ['--operation-id <id>', 'the operation'],
          ['--outcome <approved|declined>', 'the outcome'],
          ['--reason <text>', 'the decline reason'],
          json,
          init,
        ],
      },
    ],
  },
  {
    area: 'operator',
    summary: 'console accounts',
    commands: [
      {
        verb: 'create',
        summary: 'a console account; its password is generated and shown once',
        options: [
          ['--email <email>', 'its e-mail'],
          ['--role <role>', 'administrator, support, viewer or merchant'],
          ['--merchant <client-key>', 'for --role merchant'],
          json,
          init,
        ],
      },
      { verb: 'list', summary: 'console accounts', options: [json, init] },
    ],
  },
  {
    area: 'logs',
    summary: "sandbox: merchants' API requests, errors included (never card data)",
    commands: [
      {
        verb: 'tail',
        summary: 'show API requests as they are answered',
        options: [
          clientKey,
          ['--errors', 'only ERROR answers'],
          ['--since <duration>', 'start that long ago (10m, 1h); default now'],
          json,
          ['--max-count <n>', 'stop after N requests'],
          ['--for-ms <ms>', 'stop after MS'],
          ['--poll-ms <ms>', 'poll interval (200)'],
          init,
        ],
      },
    ],
  },
  {
    area: 'audit',
    summary: 'the audit log',
    commands: [{ verb: 'list', summary: 'newest first (console and CLI changes)', options: [limit, json, init] }],
  },
];

/** Commands without a verb. */
const verblessSpecs: readonly (CommandSpec & { area: string })[] = [
  {
    area: 'listen',
    summary: 'show every callback as it is committed, each delivery attempt, and forward a signed copy',
    options: [
      clientKey,
      ['--forward-to <url>', 'your local receiver'],
      json,
      ['--max-count <n>', 'stop after N callbacks'],
      ['--for-ms <ms>', 'stop after MS'],
      ['--poll-ms <ms>', 'poll interval (25)'],
      init,
    ],
  },
  {
    area: 'trigger',
    summary:
      'sandbox: make something happen to a payment (chargeback, refund, 3ds-timeout, '
      + 'callback-duplicate, callback-delayed, callback-out-of-order); the merchant gets the real callbacks',
    args: ['<event>'],
    options: [
      transId,
      ['--amount <amount>', 'refund or chargeback amount, major units (default: all)'],
      ['--reason-code <code>', 'chargeback reason code (4837)'],
      ['--delay <duration>', 'callback-delayed: 30s, 5m … (30s)'],
      json,
      init,
    ],
  },
  {
    area: 'hash',
    summary: "the hash of ACTION's request (Appendix A), or whether --check matches; needs no database",
    args: ['[action]', '[fields...]'],
    options: [
      ['--password-file <file>', 'a file holding the PASSWORD'],
      ['--hash-mode <md5|sha256>', 'the digest (md5)'],
      ['--check <hash>', 'exit 0 when it matches, 1 when not'],
    ],
  },
  {
    area: 'backup',
    summary: 'SQLite: a consistent copy of the database, safe while the server runs',
    args: ['<file>'],
    options: [],
  },
  {
    area: 'restore',
    summary: "SQLite: put a backup in place as KASSA_DATA_DIR's database (server stopped)",
    args: ['<file>'],
    options: [],
  },
];

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The command's options by their long names, as cli.ts reads them. */
function valuesOf(command: Command): ParsedCommand['values'] {
  const opts = command.opts();
  const values: ParsedCommand['values'] = {};
  for (const option of command.options) {
    const value = opts[option.attributeName()];
    if (value !== undefined && option.long) values[option.long.slice(2)] = value;
  }
  return values;
}

function addCommand(
  parent: Command,
  name: string,
  spec: CommandSpec,
  onParsed: (command: Command, positionals: string[]) => void,
): Command {
  const command = parent.command(name).description(spec.summary);
  for (const argument of spec.args ?? []) command.argument(argument);
  for (const [flags, description, multiple] of spec.options) {
    const option = new Option(flags, description);
    if (multiple) option.argParser(collect);
    command.addOption(option);
  }
  command.action((...args: unknown[]) => {
    // commander passes the arguments, then the options object and the command itself.
    const positionals = args.slice(0, (spec.args ?? []).length).flatMap((value) => value ?? []) as string[];
    onParsed(command, positionals);
  });
  return command;
}

/** extra areas handed over before parsing (routing) or registered by other files (trigger …). */
export type ExtraArea = (program: Command, onParsed: (parsed: ParsedCommand) => void) => void;

export function kassaProgram(
  onParsed: (parsed: ParsedCommand) => void,
  extraAreas: readonly ExtraArea[] = [],
): Command {
  const program = new Command('kassa')
    .description('Kassa — the operator and developer command line (same KASSA_DATA_DIR / DATABASE_URL as the server)')
    .version(kassaVersion, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for the command')
    .showSuggestionAfterError(true);
  for (const spec of areaSpecs) {
    const area = program.command(spec.area).description(spec.summary);
    for (const verbSpec of spec.commands) {
      addCommand(area, verbSpec.verb!, verbSpec, (command, rest) => {
        onParsed({ area: spec.area, verb: verbSpec.verb, rest, values: valuesOf(command) });
      });
    }
  }
  for (const spec of verblessSpecs) {
    addCommand(program, spec.area, spec, (command, positionals) => {
      const [verb, ...rest] = positionals;
      onParsed({ area: spec.area, verb, rest: rest.flat(), values: valuesOf(command) });
    });
  }
  program.command('routing').description('MIDs, merchant mappings, limits (`kassa routing --help`)');
  for (const extra of extraAreas) extra(program, onParsed);
  return program;
}

/** Every command of the tree, with the commander settings that make it report instead of exit. */
export function quietly(command: Command, write: { out: (text: string) => void }): void {
  command.exitOverride();
  command.configureOutput({ writeOut: write.out, writeErr: () => {}, outputError: () => {} });
  for (const child of command.commands) quietly(child, write);
}

export { CommanderError };
