import pino from 'pino';
import type { KassaConfig } from './config.ts';
import type { PlatformContext } from './operations/context.ts';
import { buildPlatformContext } from './platform-context.ts';
import {
  applicationsAsText,
  approveRefundApplication,
  findApplications,
  rejectRefundApplication,
  RefundApplicationError,
} from './operations/refund-applications.ts';
import type { CliIo } from './cli.ts';
import type { Storage } from './storage/database.ts';
import { loadMerchantByClientKey } from './storage/merchants.ts';

export const refundApplicationsUsage = `  kassa refund-applications list [--status received|approved|rejected] [--overdue] [--client-key KEY] [--limit N] [--json]
  kassa refund-applications approve --application-id ID [--note TEXT]   refund the amount asked (CREDITVOID)
  kassa refund-applications reject --application-id ID --note TEXT      the note says why, for the cardholder`;

export { RefundApplicationError };

interface RefundApplicationValues {
  status?: string;
  overdue?: boolean;
  'client-key'?: string;
  limit?: string;
  'application-id'?: string;
  note?: string;
  json?: boolean;
}

/** Approval moves money and `list` judges deadlines, so the CLI runs on exactly what the server
 * runs on: the same context builder, hence the configured connector and the sandbox clock with
 * its stored offset (`kassa clock advance`). */
function operatorContext(io: CliIo, config: KassaConfig, storage: Storage) {
  return buildPlatformContext(config, storage, {
    logger: pino({ level: 'warn' }, pino.destination(2)),
    clock: io.clock,
  });
}

/** `kassa refund-applications …`: thin, the use cases are in operations/refund-applications.ts. */
export async function refundApplicationsCommand(
  io: CliIo,
  verb: string,
  values: RefundApplicationValues,
  config: KassaConfig,
  storage: Storage,
): Promise<number> {
  const platform = await operatorContext(io, config, storage);
  try {
    return await decide(io, platform.context, verb, values);
  } finally {
    await platform.close();
  }
}

async function decide(
  io: CliIo,
  context: PlatformContext,
  verb: string,
  values: RefundApplicationValues,
): Promise<number> {
  const write = (rows: ReturnType<typeof applicationsAsText> | object) =>
    io.stdout(typeof rows === 'string' ? rows : `${JSON.stringify(rows)}\n`);
  if (verb === 'list') {
    let merchantId: string | undefined;
    if (values['client-key']) {
      merchantId = (await loadMerchantByClientKey(context.storage, values['client-key']))?.merchantId;
      if (!merchantId) throw new RefundApplicationError(`no merchant with client_key ${values['client-key']}`);
    }
    const rows = await findApplications(context, {
      status: values.status,
      merchantId,
      overdueOnly: values.overdue === true,
      limit: values.limit === undefined ? undefined : Number(values.limit),
    });
    write(values.json ? rows : applicationsAsText(rows));
    return 0;
  }
  if (verb === 'approve' || verb === 'reject') {
    if (!values['application-id']) throw new RefundApplicationError('--application-id is required');
    const row =
      verb === 'approve'
        ? await approveRefundApplication(context, values['application-id'], values.note ?? null)
        : await rejectRefundApplication(context, values['application-id'], values.note);
    write(values.json ? row : applicationsAsText([row]));
    return 0;
  }
  io.stdout(`${refundApplicationsUsage}\n`);
  return 2;
}
