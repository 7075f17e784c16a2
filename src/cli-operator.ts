import { systemClock } from './domain/clock.ts';
import { formatTransDate } from './domain/dates.ts';
import { parseDuration } from './domain/durations.ts';
import type { KassaConfig } from './config.ts';
import { createChargeback } from './operations/chargeback.ts';
import { platformClock } from './platform-context.ts';
import { ProtocolError, protocolErrors } from './protocol/errors.ts';
import { openVault } from './security/vault.ts';
import type { CliIo } from './cli.ts';
import type { Storage } from './storage/database.ts';
import { advanceClockOffset, SandboxClock } from './storage/sandbox-clock.ts';

export const operatorUsage = `  kassa clock show [--json]                  the sandbox time (real time + stored offset)
  kassa clock advance DURATION [--json]      move the sandbox clock forward for every node: 30d, 12h, 90m, 2w
  kassa chargeback create --trans-id ID --reason-code CODE [--amount 5.00] [--bank-date YYYY-MM-DD] [--json]
                                             an issuer's chargeback of a SETTLED payment; the merchant gets its callback`;

export const operatorOptions = {
  amount: { type: 'string' },
  'reason-code': { type: 'string' },
  'bank-date': { type: 'string' },
} as const;

/** An operator mistake: printed as is, exit code 2. */
export class OperatorInputError extends Error {}

/** `kassa clock …` and `kassa chargeback …`: thin over storage/sandbox-clock.ts and
 * operations/chargeback.ts. The CLI reads the same clock the server does. */
export async function operatorCommand(
  io: CliIo,
  area: string,
  verb: string,
  argument: string | undefined,
  values: Record<string, unknown>,
  config: KassaConfig,
  storage: Storage,
): Promise<number> {
  const asJson = values.json === true;
  // The clock the server runs on (platform-context.ts): sandbox time in sandbox mode.
  const baseClock = io.clock ?? systemClock;
  const clock = await platformClock(config, storage, baseClock);
  const show = (body: Record<string, unknown>) => {
    io.stdout(
      asJson
        ? `${JSON.stringify(body)}\n`
        : `${Object.entries(body)
            .map(([key, value]) => `${key.padEnd(16)} ${value}`)
            .join('\n')}\n`,
    );
  };
  try {
    if (area === 'clock') {
      if (config.mode !== 'sandbox') throw new OperatorInputError('clock control is off in production mode');
      if (verb === 'advance') {
        const durationMs = parseDuration(argument ?? '');
        if (durationMs === undefined)
          throw new OperatorInputError('advance takes a duration: a number and s, m, h, d or w (e.g. 30d)');
        const offsetMs = await advanceClockOffset(storage, durationMs, baseClock.nowMs());
        show({ now: formatTransDate(baseClock.nowMs() + offsetMs, config.timeZone), offset_ms: offsetMs });
        return 0;
      }
      if (verb === 'show') {
        show({ now: formatTransDate(clock.nowMs(), config.timeZone), offset_ms: (clock as SandboxClock).offsetMs });
        return 0;
      }
    }
    if (area === 'chargeback' && verb === 'create') {
      if (typeof values['trans-id'] !== 'string') throw new OperatorInputError('--trans-id is required');
      if (typeof values['reason-code'] !== 'string') throw new OperatorInputError('--reason-code is required');
      const vault = openVault({
        secretKey: config.secretKey,
        previousSecretKeys: config.previousSecretKeys,
        dataDirectory: config.dataDirectory,
      });
      const callback = await createChargeback(
        { storage, clock, timeZone: config.timeZone, vault },
        {
          transId: values['trans-id'],
          reasonCode: values['reason-code'],
          amount: values.amount as string | undefined,
          bankDate: values['bank-date'] as string | undefined,
        },
      );
      show(callback);
      return 0;
    }
    throw new OperatorInputError(`unknown command: ${area} ${verb}`);
  } catch (error) {
    if (error instanceof ProtocolError) {
      const details = error.fieldErrors.map((fieldError) => ` ${fieldError.field}: ${fieldError.message}`).join(';');
      io.stderr(`kassa: ${protocolErrors[error.name].code} ${error.message}${details}\n`);
      return 2;
    }
    if (error instanceof OperatorInputError) {
      io.stderr(`kassa: ${error.message}\n`);
      return 2;
    }
    throw error;
  } finally {
    if (clock instanceof SandboxClock) await clock.close();
  }
}
