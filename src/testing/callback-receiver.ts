import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import qs from 'qs';

/**
 * A real merchant endpoint on 127.0.0.1 for callback tests and the bench: records every request
 * (parsed form, raw body, headers, arrival time) and answers as told — OK, ERROR, HTTP 500, or
 * never (a hang, for timeouts).
 */
export type ReceiverAnswer = 'OK' | 'ERROR' | '500' | 'hang' | { status: number; body: string };

export interface ReceivedCallback {
  path: string;
  contentType: string | undefined;
  callbackId: string | undefined;
  rawBody: string;
  fields: Record<string, any>;
  /** performance.timeOrigin + performance.now(): comparable across processes on one machine. */
  receivedAtMs: number;
}

export interface CallbackReceiver {
  received: ReceivedCallback[];
  /** Decides each answer; by default every request gets OK. */
  answer: (callback: ReceivedCallback) => ReceiverAnswer;
  port: number;
  url(path?: string): string;
  /** Resolves when `count` callbacks have arrived (all paths, or one path). */
  waitFor(count: number, options?: { path?: string; timeoutMs?: number }): Promise<ReceivedCallback[]>;
  close(): Promise<void>;
}

export async function startCallbackReceiver(options: { port?: number; answer?: CallbackReceiver['answer'] } = {}): Promise<CallbackReceiver> {
  const received: ReceivedCallback[] = [];
  const waiters = new Set<() => void>();
  const receiver = {
    received,
    answer: options.answer ?? (() => 'OK' as ReceiverAnswer),
  } as CallbackReceiver;
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const callback: ReceivedCallback = {
        path: (request.url ?? '/').split('?')[0],
        contentType: request.headers['content-type'],
        callbackId: request.headers['x-kassa-callback-id'] as string | undefined,
        rawBody,
        fields: qs.parse(rawBody) as Record<string, any>,
        receivedAtMs: performance.timeOrigin + performance.now(),
      };
      received.push(callback);
      for (const wake of waiters) wake();
      const answer = receiver.answer(callback);
      if (answer === 'hang') return;
      if (answer === 'OK' || answer === 'ERROR') response.writeHead(200, { 'content-type': 'text/plain' }).end(answer);
      else if (answer === '500') response.writeHead(500, { 'content-type': 'text/plain' }).end('Internal Server Error');
      else response.writeHead(answer.status, { 'content-type': 'text/plain' }).end(answer.body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = (path = '/callback') => `http://127.0.0.1:${receiver.port}${path}`;
  receiver.waitFor = (count, { path, timeoutMs = 10_000 } = {}) => new Promise((resolve, reject) => {
    const matching = () => received.filter((callback) => path === undefined || callback.path === path);
    const check = () => {
      if (matching().length < count) return;
      cleanup();
      resolve(matching());
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`receiver: ${matching().length} of ${count} callbacks arrived within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      waiters.delete(check);
    };
    waiters.add(check);
    check();
  });
  receiver.close = () => new Promise<void>((resolve) => {
    // Hung requests would keep close() waiting for ever.
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return receiver;
}
