import { startCallbackReceiver, type CallbackReceiver } from './callback-receiver.ts';
import { FaultProxy } from './fault-proxy.ts';
import { runKassa, startTestPlatform, transactionFields, type TestPlatform } from './harness.ts';
import { freePort, startUpstreamKassa, type UpstreamKassa } from './upstream-process.ts';
import { CallbackDispatcher } from '../workers/callback-dispatcher.ts';

/**
 * Kassa as a merchant of a second, real Kassa process: this platform listens on a real port (the
 * upstream sends callbacks and cardholders to it), its merchant's payments go to an upstream
 * S2S CARD MID, the connector reaches the upstream through one fault proxy (`api`) and the
 * upstream's callbacks reach Kassa through another (`callbacks`). The merchant's own callbacks
 * are delivered to `receiver` by `dispatcher`.
 */
export interface UpstreamPlatform {
  platform: TestPlatform;
  upstream: UpstreamKassa;
  api: FaultProxy;
  callbacks: FaultProxy;
  receiver: CallbackReceiver;
  dispatcher: CallbackDispatcher;
  /** `result:status` of the merchant callbacks of a payment delivered so far (after a dispatch run). */
  merchantCallbacksOf(transId: string): Promise<string[]>;
  /** GET_TRANS_STATUS's status at Kassa, polled until it is not PREPARE/3DS (or `timeoutMs`). */
  settledStatusOf(transId: string, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}


export async function startUpstreamPlatform(options: { answerTimeoutMs?: number } = {}): Promise<UpstreamPlatform> {
  const receiver = await startCallbackReceiver();
  const port = await freePort();
  const platform = await startTestPlatform({
    config: { publicUrl: `http://127.0.0.1:${port}` },
    merchant: { callbackUrl: receiver.url('/merchant'), threeDsEnabled: true },
  });
  await platform.app.listen({ host: '127.0.0.1', port });
  const callbacks = await FaultProxy.start(`http://127.0.0.1:${port}/`);
  const upstream = await startUpstreamKassa({ callbackUrl: `${callbacks.url}connectors/callback` });
  const api = await FaultProxy.start(upstream.url);
  const settings = [
    '--setting', `baseUrl=${api.url}`, '--setting', `clientKey=${upstream.clientKey}`,
    '--setting', `answerTimeoutMs=${options.answerTimeoutMs ?? 5_000}`, '--secret', `password=${upstream.password}`,
  ];
  await runKassa(platform, 'routing', 'mid', 'create', '--name', 'upstream-psp', '--connector', 'upstream-s2s-card',
    ...settings);
  await runKassa(platform, 'routing', 'mapping', 'set', '--client-key', platform.merchant.clientKey, '--mids',
    'upstream-psp');
  const dispatcher = new CallbackDispatcher(platform.context, { attemptTimeoutMs: 2_000 });
  const statusOf = async (transId: string): Promise<string> =>
    (await platform.post(transactionFields(platform.merchant, 'GET_TRANS_STATUS', transId, {}, '4111111111111111')))
      .body.status;
  return {
    platform, upstream, api, callbacks, receiver, dispatcher,
    async merchantCallbacksOf(transId) {
      await dispatcher.runOnce();
      return receiver.received
        .filter((received) => received.fields.trans_id === transId)
        .map((received) => `${received.fields.result}:${received.fields.status}`);
    },
    async settledStatusOf(transId, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      let status = await statusOf(transId);
      while ((status === 'PREPARE' || status === '3DS') && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        status = await statusOf(transId);
      }
      return status;
    },
    async close() {
      await dispatcher.stop();
      await api.close();
      await callbacks.close();
      await upstream.close();
      await platform.close();
      await receiver.close();
    },
  };
}
