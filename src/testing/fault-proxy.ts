import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the proxy does to the next requests. */
export type ProxyFault =
  | 'none'
  /** Forwards after `latencyMs`. */
  | 'latency'
  /** Accepts the request and never answers nor forwards it. */
  | 'noAnswer'
  /** Resets the connection before forwarding: the upstream never sees the request. */
  | 'resetBefore'
  /** Forwards, lets the upstream commit, then resets the connection: the answer is lost. */
  | 'resetAfterCommit'
  /** Forwards, lets the upstream commit, and never answers (the crash test kills Kassa then). */
  | 'noAnswerAfterCommit'
  /** Forwards, then answers 502 instead of the upstream's answer. */
  | 'serverErrorAfterCommit'
  /** Forwards, then answers an HTML page with 200. */
  | 'malformedAfterCommit'
  /** Callbacks: forwards every request twice (the answer is the first one's). */
  | 'duplicate'
  /** Callbacks: answers the first request (that `reorderOnly` picks) `OK` itself and holds it;
   * forwards the next one of the same order_id, and then the held one, late (or when
   * `flushHeld()` is called). */
  | 'reorder';

interface Answer {
  statusCode: number;
  contentType: string;
  body: Buffer;
}

interface HeldRequest {
  url: string | undefined;
  method: string | undefined;
  contentType: string | undefined;
  body: Buffer;
}

/** Both form bodies name the same order_id (or one names none). */
function sameOrder(one: HeldRequest, other: HeldRequest): boolean {
  const orderOf = (request: HeldRequest) => new URLSearchParams(request.body.toString('utf8')).get('order_id');
  const [first, second] = [orderOf(one), orderOf(other)];
  return first === null || second === null || first === second;
}

function heldOf(request: IncomingMessage, body: Buffer): HeldRequest {
  return { url: request.url, method: request.method, contentType: request.headers['content-type'], body };
}

/**
 * A small HTTP proxy in front of a real upstream process (or, for callbacks, in front of Kassa)
 * that injects faults (bounded: it only
 * handles what the test sends, and closes with the test). Loopback only.
 */
export class FaultProxy {
  fault: ProxyFault = 'none';
  /** The fault applies to the next request only, then it is back to 'none'. */
  once = false;
  /** This many requests pass untouched before the fault applies. */
  passBeforeFault = 0;
  latencyMs = 200;
  /** 'reorder' holds only a request whose body this accepts: a late callback of an earlier
   * test must not take the place of the one the test means to reorder. */
  reorderOnly: ((body: string) => boolean) | undefined;
  forwarded = 0;
  /** The bodies of the requests forwarded, in the order the target got them. */
  readonly forwardedBodies: string[] = [];
  #held: HeldRequest | undefined;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #target: URL;

  private constructor(target: string) {
    this.#target = new URL(target);
    this.#server = createServer((request, response) => void this.#handle(request, response));
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  static async start(target: string): Promise<FaultProxy> {
    const proxy = new FaultProxy(target);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/`;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const passing = this.passBeforeFault > 0;
    if (passing) this.passBeforeFault -= 1;
    const fault = passing ? 'none' : this.fault;
    if (this.once && !passing) this.fault = 'none';
    if (fault === 'noAnswer') return;
    if (fault === 'resetBefore') {
      request.socket.destroy();
      return;
    }
    if (fault === 'latency') await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    const held = heldOf(request, Buffer.concat(chunks));
    if (fault === 'reorder' && !this.#held && (this.reorderOnly?.(held.body.toString('utf8')) ?? true)) {
      this.#held = held;
      response.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
      return;
    }
    const answer = await this.#forward(held);
    if (fault === 'duplicate') await this.#forward(held);
    if (fault === 'reorder' && this.#held && sameOrder(this.#held, held)) await this.flushHeld();
    if (fault === 'noAnswerAfterCommit') return;
    if (fault === 'resetAfterCommit') {
      request.socket.destroy();
      return;
    }
    if (fault === 'serverErrorAfterCommit') {
      response.writeHead(502, { 'content-type': 'text/plain' }).end('Bad gateway');
      return;
    }
    if (fault === 'malformedAfterCommit') {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Maintenance</body></html>');
      return;
    }
    response.writeHead(answer.statusCode, { 'content-type': answer.contentType }).end(answer.body);
  }

  /** Sends the request `reorder` held back, now (after the later one). */
  async flushHeld(): Promise<void> {
    const held = this.#held;
    this.#held = undefined;
    if (held) await this.#forward(held);
  }

  async #forward(held: HeldRequest): Promise<Answer> {
    const answer = await this.#send(held);
    this.forwarded += 1;
    this.forwardedBodies.push(held.body.toString('utf8'));
    return answer;
  }

  #send({ url, method, contentType, body }: HeldRequest): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const upstream = httpRequest(
        {
          host: this.#target.hostname,
          port: this.#target.port,
          path: url,
          method,
          headers: { 'content-type': contentType ?? 'application/octet-stream', 'content-length': body.length },
        },
        (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (part: Buffer) => parts.push(part));
          answer.on('end', () =>
            resolve({
              statusCode: answer.statusCode ?? 502,
              contentType: String(answer.headers['content-type'] ?? 'text/plain'),
              body: Buffer.concat(parts),
            }),
          );
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
