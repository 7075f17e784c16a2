import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Level, Logger } from 'pino';

type LogMethod = (...args: unknown[]) => void;

/**
 * The logger Fastify gives each request (`request.log`): a pino child binding the request id,
 * made only when a line at an enabled level is written. Fastify makes that child for every
 * request; with the redaction paths configured it cost ~1.4% of a SALE's CPU in the profile,
 * while at LOG_LEVEL=warn (a busy deployment, the bench) the hot path writes no line at all.
 * At the default info level the route's one line per request makes the child as before. Lines
 * that are written go through the same pino child (same bindings, redaction and level), so the
 * logs do not change.
 */
class RequestLogger {
  readonly #parent: Logger;
  readonly #bindings: Bindings;
  readonly #options: ChildLoggerOptions | undefined;
  #child: Logger | undefined;

  constructor(parent: Logger, bindings: Bindings, options: ChildLoggerOptions | undefined) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  #real(): Logger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options);
    return this.#child;
  }

  #write(level: Level, args: unknown[]): void {
    if (this.#child === undefined && !this.#parent.isLevelEnabled(level)) return;
    (this.#real()[level] as LogMethod)(...args);
  }

  get level(): string {
    return this.#child?.level ?? this.#parent.level;
  }

  set level(level: string) {
    this.#real().level = level;
  }

  fatal(...args: unknown[]): void { this.#write('fatal', args); }
  error(...args: unknown[]): void { this.#write('error', args); }
  warn(...args: unknown[]): void { this.#write('warn', args); }
  info(...args: unknown[]): void { this.#write('info', args); }
  debug(...args: unknown[]): void { this.#write('debug', args); }
  trace(...args: unknown[]): void { this.#write('trace', args); }
  silent(): void {}

  isLevelEnabled(level: string): boolean {
    return (this.#child ?? this.#parent).isLevelEnabled(level);
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#real().child(bindings, options) as FastifyBaseLogger;
  }
}

/** Fastify's `childLoggerFactory`. A route with its own log level or serializers gets a plain
 * child at once (its level, not the parent's, decides what is written). */
export function requestLoggerFactory(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  const parent = logger as unknown as Logger;
  if (options.level !== undefined || options.serializers !== undefined) return parent.child(bindings, options) as FastifyBaseLogger;
  return new RequestLogger(parent, bindings, undefined) as unknown as FastifyBaseLogger;
}
