import type { FastifyInstance } from 'fastify';
import type { PlatformContext } from '../operations/context.ts';
import { receiveBankCallback } from '../operations/bank-callbacks.ts';
import { formFieldsOf, textField } from './form-body.ts';

/** Where the upstream platform of an upstream S2S CARD MID sends its callbacks (README). */
export const bankCallbackPath = '/connectors/callback';

/**
 * The banks' callbacks to Kassa (docs/adr/0093). The sender's protocol: HTTP 200 with `OK` is
 * delivered, anything else is retried. A callback that is not ours or not correctly signed gets
 * `ERROR` (and a warn line); so does one whose handling failed, so the bank sends it again.
 */
export function registerBankCallbacks(app: FastifyInstance, context: PlatformContext): void {
  app.post(bankCallbackPath, async (request, reply) => {
    const form = formFieldsOf(request);
    const fields: Record<string, string> = {};
    for (const name of Object.keys(form)) fields[name] = textField(form, name);
    reply.type('text/plain; charset=utf-8');
    try {
      const verdict = await receiveBankCallback(context, fields);
      return verdict.kind === 'handled' ? 'OK' : 'ERROR';
    } catch (error) {
      request.log.error({ error: { message: (error as Error).message } }, 'bank callback failed');
      return 'ERROR';
    }
  });
}
