import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { refusedAddressReason } from './target-address.ts';

/**
 * One callback POST: bounded in time (the whole exchange, connect to last byte) and in bytes
 * read, redirects never followed. In production mode the target address is checked where the
 * connection is made — inside the DNS lookup the socket itself uses — so a name that resolves
 * to a public address for a check and to 127.0.0.1 for the connection (DNS rebinding) cannot
 * slip through.
 */

export interface PostResult {
  /** HTTP status, or null when no answer came (refused, timeout, connection error). */
  statusCode: number | null;
  /** The answer's first bytes (as many as were read), or null without an answer. */
  body: string | null;
  /** Why no usable answer came; null when there is an answer. */
  error: string | null;
  /** The production SSRF rule stopped the request before a connection was made. */
  refused: boolean;
  /** Wall time spent, measured with the monotonic clock (not the injected one). */
  durationMs: number;
}

export interface TransportOptions {
  /** production refuses loopback, private, link-local and unique-local targets. */
  mode: 'sandbox' | 'production';
  attemptTimeoutMs: number;
  /** Sockets kept per host: bounds the connections the dispatcher opens. */
  maxSockets: number;
}

/** Bytes of an answer read at most: `OK` with some whitespace fits many times over. */
export const answerBytesMax = 1024;

class TargetRefusedError extends Error {}

function refusalOf(hostname: string, address: string): TargetRefusedError | null {
  const reason = refusedAddressReason(address);
  if (!reason) return null;
  const target = hostname === address ? `${address} is` : `${hostname} resolves to ${address},`;
  return new TargetRefusedError(`refused: ${target} ${reason} (KASSA_MODE=production forbids it)`);
}

/** A DNS lookup that refuses the whole name when any of its addresses is forbidden. */
function guardedLookup(
  hostname: string, options: LookupOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  dnsLookup(hostname, { family: options.family ?? 0, hints: options.hints, all: true }, (error, addresses) => {
    if (error) return callback(error, '');
    if (addresses.length === 0) return callback(new Error(`${hostname} has no address`), '');
    for (const entry of addresses) {
      const refusal = refusalOf(hostname, entry.address);
      if (refusal) return callback(refusal, '');
    }
    if (options.all) return callback(null, addresses);
    return callback(null, addresses[0].address, addresses[0].family);
  });
}

export class CallbackTransport {
  readonly #options: TransportOptions;
  readonly #httpAgent: http.Agent;
  readonly #httpsAgent: https.Agent;

  constructor(options: TransportOptions) {
    this.#options = options;
    // Keep-alive for throughput to busy merchants; idle sockets are dropped after 4 s, before the
    // usual 5 s server keep-alive, so a reused socket is rarely one the server is closing.
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets, maxFreeSockets: options.maxSockets, timeout: 4_000 };
    this.#httpAgent = new http.Agent(agentOptions);
    this.#httpsAgent = new https.Agent(agentOptions);
  }

  async post(urlText: string, body: string, extraHeaders: Record<string, string> = {}): Promise<PostResult> {
    const startedAt = performance.now();
    const elapsed = () => Math.round(performance.now() - startedAt);
    let url: URL;
    try {
      url = new URL(urlText);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http or https');
    } catch (error) {
      return { statusCode: null, body: null, error: `invalid callback URL: ${(error as Error).message}`, refused: false, durationMs: elapsed() };
    }
    const production = this.#options.mode === 'production';
    if (production) {
      // Node skips the lookup for an IP literal, so the rule is applied here for those.
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const refusal = isIP(host) ? refusalOf(host, host) : null;
      if (refusal) return { statusCode: null, body: null, error: refusal.message, refused: true, durationMs: elapsed() };
    }
    return new Promise<PostResult>((resolve) => {
      let settled = false;
      const finish = (result: Omit<PostResult, 'durationMs'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ ...result, durationMs: elapsed() });
      };
      const payload = Buffer.from(body, 'utf8');
      const request = (url.protocol === 'https:' ? https : http).request(url, {
        method: 'POST',
        agent: url.protocol === 'https:' ? this.#httpsAgent : this.#httpAgent,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': payload.length,
          'user-agent': 'Kassa-Callback/1',
          ...extraHeaders,
        },
        ...(production ? { lookup: guardedLookup } : {}),
      });
      const timer = setTimeout(() => {
        request.destroy(new Error(`no answer within ${this.#options.attemptTimeoutMs} ms`));
      }, this.#options.attemptTimeoutMs);
      request.on('error', (error) => {
        finish({ statusCode: null, body: null, error: error.message || String(error), refused: error instanceof TargetRefusedError });
      });
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        let received = 0;
        const done = () => finish({
          statusCode: response.statusCode ?? null, body: Buffer.concat(chunks).toString('utf8'), error: null, refused: false,
        });
        response.on('data', (chunk: Buffer) => {
          const room = answerBytesMax - received;
          if (room > 0) chunks.push(chunk.subarray(0, room));
          received += chunk.length;
          // Longer than any acceptable answer: stop reading; what was read is enough to report.
          if (received > answerBytesMax) {
            done();
            response.destroy();
          }
        });
        response.on('end', done);
        response.on('error', (error) => finish({ statusCode: response.statusCode ?? null, body: null, error: error.message, refused: false }));
        response.on('close', () => {
          if (response.complete) done();
          else finish({ statusCode: response.statusCode ?? null, body: null, error: 'connection closed before the answer ended', refused: false });
        });
      });
      request.end(payload);
    });
  }

  close(): void {
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }
}
