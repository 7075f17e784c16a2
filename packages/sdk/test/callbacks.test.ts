import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import {
  encodeForm, expressCallbackHandler, fastifyCallbackHandler, nodeCallbackHandler, parseCallbackBody, signCallback,
  type CallbackOptions, type ReceivedFields,
} from '../src/index.ts';

/**
 * The callback middleware, each behind a real listening server, posted to as Kassa posts:
 * `OK` for a callback whose hash verifies and whose handler succeeded, `ERROR` for a wrong hash
 * (the handler never sees it) and for a handler that failed — so Kassa sends it again.
 */
const password = 'merchant-password';
const email = 'doe@example.com';
const callback = signCallback({
  action: 'SALE', result: 'SUCCESS', status: 'SETTLED', order_id: 'ORDER-1', trans_id: '0190a7d2-1111-7000-8000-000000000001',
  card: '411111******1111', card_expiration_date: '01/2025', amount: '1.99', currency: 'USD',
  custom_data: { basket: '42' },
}, { password, email, cardNumberOrDigits: '411111******1111' });
// Formula 2 signs the e-mail, PASSWORD, trans_id and card only: a forger who changes the
// trans_id (or guesses a hash) is caught; the amount is not part of the signature.
const forged = { ...callback, trans_id: '0190a7d2-1111-7000-8000-000000000002' };

async function listening(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
}

async function send(url: string, fields: Record<string, unknown>): Promise<string> {
  const response = await fetch(url, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: encodeForm(fields as Record<string, string>),
  });
  assert.equal(response.status, 200);
  return response.text();
}

function recording(): { options: CallbackOptions; seen: ReceivedFields[]; failNext: () => void } {
  const seen: ReceivedFields[] = [];
  let fail = false;
  const options: CallbackOptions = {
    password,
    emailOf: async (fields) => (fields.order_id === 'ORDER-1' ? email : undefined),
    onCallback: (fields) => {
      if (fail) {
        fail = false;
        throw new Error('database down');
      }
      seen.push(fields);
    },
  };
  return { options, seen, failNext: () => { fail = true; } };
}

async function checkAnswers(url: string, state: ReturnType<typeof recording>): Promise<void> {
  assert.equal(await send(url, callback), 'OK');
  assert.equal(state.seen.length, 1);
  assert.equal(state.seen[0].amount, '1.99');
  assert.deepEqual(state.seen[0].custom_data, { basket: '42' }, 'bracket keys come back as an object');
  assert.equal(await send(url, forged), 'ERROR');
  assert.equal(state.seen.length, 1, 'a forged callback never reaches the handler');
  state.failNext();
  assert.equal(await send(url, callback), 'ERROR', 'a failing handler answers ERROR so the callback is sent again');
  assert.equal(await send(url, callback), 'OK');
  assert.equal(state.seen.length, 2);
}

test('Node http: nodeCallbackHandler answers OK, or ERROR for a wrong hash and a failing handler', async (t) => {
  const state = recording();
  const server = createServer(nodeCallbackHandler(state.options));
  t.after(() => server.close());
  await checkAnswers(await listening(server), state);
});

test('Express-style (req.body already parsed by a urlencoded middleware; res is http.ServerResponse)', async (t) => {
  const state = recording();
  const handler = expressCallbackHandler(state.options);
  // What express.urlencoded({ extended: true }) leaves behind: req.body, an object of the fields.
  const server = createServer((request: IncomingMessage & { body?: unknown }, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      request.body = parseCallbackBody(Buffer.concat(chunks).toString('utf8'));
      void handler(request, response);
    });
  });
  t.after(() => server.close());
  await checkAnswers(await listening(server), state);
});

test('Fastify: fastifyCallbackHandler with a string body parser', async (t) => {
  const state = recording();
  const app = Fastify();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, body);
  });
  app.post('/callback', fastifyCallbackHandler(state.options));
  t.after(() => app.close());
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  await checkAnswers(`${address}/callback`, state);
});

test('an e-mail look-up that fails answers ERROR; a body that is not a callback answers ERROR', async (t) => {
  const server = createServer(nodeCallbackHandler({
    password, emailOf: () => { throw new Error('no database'); }, onCallback: () => {},
  }));
  t.after(() => server.close());
  const url = await listening(server);
  assert.equal(await send(url, callback), 'ERROR');
  assert.equal(await send(url, { hello: 'world' }), 'ERROR');
});
