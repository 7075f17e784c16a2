import { performance } from 'node:perf_hooks';
import { Agent, request } from 'node:http';
import { saleFields } from '../src/testing/harness.ts';
import { startUpstreamKassa, type UpstreamKassa } from '../src/testing/upstream-process.ts';

/**
 * `npx tsx bench/upstream-row.ts` (part of `npm run bench`): "SALE through the upstream
 * connector". Two real Kassa processes on SQLite: the upstream, and Kassa with an upstream
 * S2S CARD MID in front of it. SALEs one at a time (the latency a merchant sees, not a peak),
 * alternating: straight to the upstream, then through Kassa. The row is what Kassa adds over
 * the upstream's own answer — p50 and p99 of through-Kassa minus the same percentile straight
 * to the upstream (aim: ≤ 3 ms at p50). A SALE through Kassa commits PREPARE, asks the
 * upstream over a pooled keep-alive connection and commits the outcome (docs/adr/0092).
 */
const count = Number(process.env.BENCH_UPSTREAM_SALES ?? 500);
const warmup = 50;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function post(url: string, fields: Record<string, string>): Promise<{ ms: number; status: string }> {
  const body = new URLSearchParams(fields).toString();
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const sent = request(`${url}post`, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
    }, (response) => {
      let text = '';
      response.on('data', (chunk) => { text += String(chunk); });
      response.on('end', () => resolve({ ms: performance.now() - started, status: String(JSON.parse(text).status) }));
    });
    sent.on('error', reject);
    sent.end(body);
  });
}

const percentile = (sorted: number[], fraction: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))];
const round = (value: number) => Math.round(value * 100) / 100;

export async function benchUpstreamRow(): Promise<Record<string, string | number>> {
  let upstream: UpstreamKassa | undefined;
  let kassa: UpstreamKassa | undefined;
  try {
    upstream = await startUpstreamKassa();
    const target = upstream;
    // A second merchant of the same Kassa pays through a test-engine MID that writes PREPARE
    // first like a real bank's: Kassa's own two-commit SALE without the network, for comparison.
    let local: { clientKey: string; password: string } | undefined;
    kassa = await startUpstreamKassa({
      async beforeStart(cli, merchant) {
        await cli('routing', 'mid', 'create', '--name', 'upstream', '--connector', 'upstream-s2s-card',
          '--setting', `baseUrl=${target.url}`, '--setting', `clientKey=${target.clientKey}`,
          '--secret', `password=${target.password}`);
        await cli('routing', 'mapping', 'set', '--client-key', merchant.clientKey, '--mids', 'upstream');
        const created = JSON.parse(await cli('merchant', 'create', '--email', 'local@kassa.test', '--json'));
        local = { clientKey: created.client_key, password: created.password };
        await cli('routing', 'mid', 'create', '--name', 'prepare-first', '--connector', 'test-engine',
          '--setting', 'recordPrepare=true');
        await cli('routing', 'mapping', 'set', '--client-key', local.clientKey, '--mids', 'prepare-first');
      },
    });
    const times = { direct: [] as number[], through: [] as number[], local: [] as number[] };
    const fields = { card_exp_year: '2038', payer_ip: '127.0.0.1' };
    for (let index = 0; index < warmup + count; index += 1) {
      const straight = await post(upstream.url, saleFields(upstream, fields));
      const forwarded = await post(kassa.url, saleFields(kassa, fields));
      const alone = await post(kassa.url, saleFields(local!, fields));
      if ([straight, forwarded, alone].some((answer) => answer.status !== 'SETTLED')) {
        throw new Error(`a SALE was not SETTLED: ${straight.status}, ${forwarded.status}, ${alone.status}`);
      }
      if (index < warmup) continue;
      times.direct.push(straight.ms);
      times.through.push(forwarded.ms);
      times.local.push(alone.ms);
    }
    for (const list of Object.values(times)) list.sort((a, b) => a - b);
    const { direct, through } = times;
    return {
      row: 'SALE through the upstream connector (sqlite)',
      sales: count,
      'upstream p50 ms': round(percentile(direct, 0.5)),
      'through Kassa p50 ms': round(percentile(through, 0.5)),
      'added p50 ms': round(percentile(through, 0.5) - percentile(direct, 0.5)),
      'added p99 ms': round(percentile(through, 0.99) - percentile(direct, 0.99)),
      'Kassa PREPARE-first alone p50 ms': round(percentile(times.local, 0.5)),
    };
  } finally {
    agent.destroy();
    await kassa?.close();
    await upstream?.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.table([await benchUpstreamRow()]);
