import type { TestPlatform } from './harness.ts';

/** A browser-less console client over inject(): cookies kept, forms posted as a browser would. */
export interface ConsoleClient {
  cookies: Map<string, string>;
  get(url: string): Promise<{ statusCode: number; body: string; headers: Record<string, unknown> }>;
  post(
    url: string,
    fields: Record<string, string>,
    options?: { withCsrf?: boolean },
  ): Promise<{
    statusCode: number;
    body: string;
    headers: Record<string, unknown>;
  }>;
  /** The CSRF token of the last page that carried one. */
  csrf: string;
}

export function consoleClient(platform: TestPlatform, remoteAddress = '127.0.0.1'): ConsoleClient {
  const cookies = new Map<string, string>();
  const client: ConsoleClient = {
    cookies,
    csrf: '',
    async get(url) {
      return remember(await platform.app.inject({ method: 'GET', url, remoteAddress, headers: header() }));
    },
    async post(url, fields, options = {}) {
      const body = new URLSearchParams({ ...(options.withCsrf === false ? {} : { csrf: client.csrf }), ...fields });
      return remember(
        await platform.app.inject({
          method: 'POST',
          url,
          remoteAddress,
          payload: body.toString(),
          headers: { ...header(), 'content-type': 'application/x-www-form-urlencoded' },
        }),
      );
    },
  };
  function header(): Record<string, string> {
    return cookies.size === 0 ? {} : { cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') };
  }
  function remember(response: { statusCode: number; body: string; headers: Record<string, unknown> }) {
    const setCookie = response.headers['set-cookie'];
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [String(setCookie)] : []) {
      const [pair] = String(line).split(';');
      const index = pair.indexOf('=');
      const value = pair.slice(index + 1);
      if (/Max-Age=0/.test(String(line)) || value === '') cookies.delete(pair.slice(0, index));
      else cookies.set(pair.slice(0, index), value);
    }
    const token = /name="csrf" value="([^"]+)"/.exec(response.body);
    if (token) client.csrf = token[1];
    return { statusCode: response.statusCode, body: response.body, headers: response.headers };
  }
  return client;
}

export async function signedInClient(
  platform: TestPlatform,
  account: { email: string; password: string },
  remoteAddress?: string,
): Promise<ConsoleClient> {
  const client = consoleClient(platform, remoteAddress);
  await client.get('/console/sign-in');
  const answer = await client.post('/console/sign-in', { email: account.email, password: account.password });
  if (answer.statusCode !== 303) throw new Error(`sign-in failed: ${answer.statusCode}`);
  await client.get('/console/start');
  return client;
}
