/**
 * Several PostgreSQL hosts in one DATABASE_URL, libpq's way: `postgres://user@h1:5432,h2:5432/db`
 * (docs/adr/0062). node-postgres takes one host, so the URL is split into one URL per host, and
 * a connection goes to the host that last worked; a host that refuses the connection or is a
 * read-only standby (`pg_is_in_recovery()`) moves the choice on to the next one, so after a
 * failover the pool's next connections reach the promoted standby by themselves.
 */

const multiHostPattern = /^(postgres(?:ql)?:\/\/)([^@/?#]*@)?([^/?#]*)(.*)$/s;

/** One URL per host, in the order given; undefined if the text is not a postgres:// URL. */
export function postgresUrlsOf(text: string): string[] | undefined {
  const match = multiHostPattern.exec(text);
  if (!match) return undefined;
  const [, scheme, userInfo = '', hostList = '', rest = ''] = match;
  const hosts = hostList.split(',').map((host) => host.trim());
  if (hosts.length === 0 || hosts.some((host) => host === '')) return undefined;
  const urls = hosts.map((host) => `${scheme}${userInfo}${host}${rest}`);
  for (const url of urls) {
    try {
      const protocol = new URL(url).protocol;
      if (protocol !== 'postgres:' && protocol !== 'postgresql:') return undefined;
    } catch {
      return undefined;
    }
  }
  return urls;
}

/** Which host new connections go to; shared by the pool and the LISTEN connection. */
export class PostgresHostChoice {
  #index = 0;
  constructor(readonly urls: readonly string[]) {}

  get multiple(): boolean {
    return this.urls.length > 1;
  }

  get current(): string {
    return this.urls[this.#index]!;
  }

  /** The host `failedUrl` did not work: the next connection tries the one after it (unless
   * another connection already moved on). */
  failed(failedUrl: string): void {
    if (this.urls[this.#index] === failedUrl) this.#index = (this.#index + 1) % this.urls.length;
  }
}

export class ReadOnlyHostError extends Error {
  readonly code = 'KASSA_READ_ONLY_HOST';
}
