import pino from 'pino';
import type { CliIo } from './cli.ts';
import type { KassaConfig } from './config.ts';
import { parseDuration } from './domain/durations.ts';
import { ProtocolError, protocolErrors } from './protocol/errors.ts';
import { triggerEvent, TriggerRefusedError, triggerEvents, type TriggerEvent } from './operations/trigger-events.ts';
import { buildPlatformContext } from './platform-context.ts';
import type { Storage } from './storage/database.ts';

/** `kassa trigger EVENT --trans-id ID`: thin over operations/trigger-events.ts (sandbox only),
 * on the context the server runs on (its connector, the sandbox clock). */
export const triggerUsage = `  kassa trigger EVENT --trans-id ID [--amount 5.00] [--reason-code CODE] [--delay 30s]
                      [--json]
                         EVENT: ${triggerEvents.join(', ')}`;

export class TriggerInputError extends Error {}

export async function triggerCommand(
  io: CliIo,
  event: string,
  values: Record<string, unknown>,
  config: KassaConfig,
  storage: Storage,
): Promise<number> {
  if (!(triggerEvents as readonly string[]).includes(event)) {
    throw new TriggerInputError(`unknown event ${event}: one of ${triggerEvents.join(', ')}`);
  }
  if (typeof values['trans-id'] !== 'string') throw new TriggerInputError('--trans-id is required');
  let delayMs: number | undefined;
  if (typeof values.delay === 'string') {
    delayMs = parseDuration(values.delay);
    if (delayMs === undefined)
      throw new TriggerInputError('--delay takes a duration: a number and s, m, h, d or w (e.g. 30s)');
  }
  const built = await buildPlatformContext(config, storage, {
    logger: pino({ level: 'warn' }, pino.destination(2)),
    clock: io.clock,
  });
  try {
    const shown = await triggerEvent(built.context, {
      event: event as TriggerEvent,
      transId: values['trans-id'],
      amount: values.amount as string | undefined,
      reasonCode: values['reason-code'] as string | undefined,
      delayMs,
    });
    io.stdout(
      values.json === true
        ? `${JSON.stringify(shown)}\n`
        : `${Object.entries(shown)
            .map(([key, value]) => `${key.padEnd(16)} ${value}`)
            .join('\n')}\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof ProtocolError) {
      const details = error.fieldErrors.map((fieldError) => ` ${fieldError.field}: ${fieldError.message}`).join(';');
      io.stderr(`kassa: ${protocolErrors[error.name].code} ${error.message}${details}\n`);
      return 2;
    }
    if (error instanceof TriggerRefusedError) throw new TriggerInputError(error.message);
    throw error;
  } finally {
    await built.close();
  }
}
