import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { CallbackTransport } from './callback-transport.ts';

/** Counts the TCP client sockets Node creates while `run` runs. */
async function socketsOpenedDuring(run: () => Promise<unknown>): Promise<number> {
  let opened = 0;
  const onSocket = () => {
    opened += 1;
  };
  diagnosticsChannel.subscribe('net.client.socket', onSocket);
  try {
    await run();
  } finally {
    diagnosticsChannel.unsubscribe('net.client.socket', onSocket);
  }
  return opened;
}

const disguisedLoopbackUrls = [
  'http://[::127.0.0.1]/',
  'http://[::7f00:1]:8080/cb',
  'http://[::ffff:127.0.0.1]/',
  'http://[64:ff9b::127.0.0.1]/',
  'http://[2002:7f00:1::1]/',
  'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/',
  'http://[fec0::1]/',
  'http://198.18.0.1/',
  'http://192.0.0.8/',
  'http://0x7f.1/',
];

test('production mode opens no socket to a loopback address in disguise, and says why', async () => {
  const transport = new CallbackTransport({ mode: 'production', attemptTimeoutMs: 2_000, maxSockets: 2 });
  try {
    for (const url of disguisedLoopbackUrls) {
      let result: Awaited<ReturnType<CallbackTransport['post']>> | undefined;
      const opened = await socketsOpenedDuring(async () => {
        result = await transport.post(url, 'a=b');
      });
      assert.equal(opened, 0, url);
      assert.equal(result?.refused, true, url);
      assert.match(result?.error ?? '', /^refused: .* \(KASSA_MODE=production forbids it\)$/, url);
    }
  } finally {
    transport.close();
  }
});

test('the socket counter sees a sandbox attempt (so the test above can fail)', async () => {
  const transport = new CallbackTransport({ mode: 'sandbox', attemptTimeoutMs: 2_000, maxSockets: 2 });
  try {
    const opened = await socketsOpenedDuring(() => transport.post('http://127.0.0.1:9/', 'a=b'));
    assert.equal(opened, 1);
  } finally {
    transport.close();
  }
});
