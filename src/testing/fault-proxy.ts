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
  /** Forwards, then answers 502 instead of the upstream's answer. */
  | 'serverErrorAfterCommit'
  /** Forwards, then answers an HTML page with 200. */
  | 'malformedAfterCommit';

/**
 * A small HTTP proxy in front of a real upstream process that injects faults (bounded: it only
 * handles what the test sends, and closes with the test). Loopback only.
 */
export class FaultProxy {
  fault: ProxyFault = 'none';
  latencyMs = 200;
  forwarded = 0;
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
    const fault = this.fault;
    if (fault === 'noAnswer') return;
    if (fault === 'resetBefore') {
      request.socket.destroy();
      return;
    }
    if (fault === 'latency') await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    const answer = await this.#forward(request, Buffer.concat(chunks));
    this.forwarded += 1;
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

  #forward(request: IncomingMessage, body: Buffer): Promise<{ statusCode: number; contentType: string; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const upstream = httpRequest(
        {
          host: this.#target.hostname,
          port: this.#target.port,
          path: request.url,
          method: request.method,
          headers: {
            'content-type': request.headers['content-type'] ?? 'application/octet-stream',
            'content-length': body.length,
          },
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
