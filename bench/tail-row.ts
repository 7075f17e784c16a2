/**
 * Where a paced load's tail goes (issue #15, part 2). Around one load it reads the server's
 * /metrics before and after (prom-client's event-loop histogram is reset by each scrape, so the
 * second read covers just the load; GC and SALE-duration histograms are counted as differences)
 * and runs bench/stall-probe.ts, an idle process whose late timers show what the machine did
 * to everything on it. Reported beside the paced row:
 *   - share of SALEs over the target as the client saw them, and inside the server (arrival to
 *     answer, from kassa_api_request_duration_seconds);
 *   - the server's event-loop delay p99 / max and its GC pauses over 10 ms;
 *   - the idle probe's timer lateness p99 / max.
 * A tail that the client sees but the server does not, while the probe stalls as long, is the
 * machine's (scheduling on shared cores, the host), not Kassa's.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The server's monitorEventLoopDelay resolution (metrics.ts) and the probe's: each sample is
 * the whole interval, so the delay is what exceeds it. */
const serverResolutionMs = 10;
const probeResolutionMs = 1;

export interface TailAttribution {
  clientShareOverTarget: number;
  serverShareOverTarget: number;
  serverLoopDelayP99Ms: number;
  serverLoopDelayMaxMs: number;
  gcPausesOver10Ms: number;
  gcMsPerSecond: number;
  probeLatenessP99Ms: number;
  probeLatenessMaxMs: number;
}

interface MetricsSample {
  values: Map<string, number>;
  atMs: number;
}

async function scrape(port: number): Promise<MetricsSample> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return { values, atMs: Date.now() };
}

/** Sum of every series whose name-and-labels text passes `select`. */
function sumOf(sample: MetricsSample, select: (series: string) => boolean): number {
  let sum = 0;
  for (const [series, value] of sample.values) if (select(series)) sum += value;
  return sum;
}

function startProbe(): { stop(): Promise<{ p99Ms: number; maxMs: number }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'stall-probe.ts')],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => { output += chunk; });
  const ready = new Promise<void>((resolve) => {
    const check = () => (output.includes('ready') ? resolve() : setTimeout(check, 20));
    check();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    async stop() {
      await Promise.race([ready, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      const line = output.split('\n').find((text) => text.startsWith('{'));
      if (!line) return { p99Ms: Number.NaN, maxMs: Number.NaN };
      const { p99Ms, maxMs } = JSON.parse(line) as { p99Ms: number; maxMs: number };
      return { p99Ms: Math.max(0, p99Ms - probeResolutionMs), maxMs: Math.max(0, maxMs - probeResolutionMs) };
    },
  };
}

/** Starts watching; `finish` is given the client's share of answers over the target. */
export async function watchTail(port: number, targetMs: number): Promise<{
  finish(clientShareOverTarget: number): Promise<TailAttribution>;
}> {
  const probe = startProbe();
  const before = await scrape(port);
  const targetLabel = `le="${targetMs / 1000}"`;
  const saleBucket = (label: string) => (series: string) =>
    series.startsWith('kassa_api_request_duration_seconds_bucket') && series.includes('action="SALE"')
    && series.includes(label);
  const gc = (suffix: string, label?: string) => (series: string) =>
    series.startsWith(`nodejs_gc_duration_seconds${suffix}`) && (label === undefined || series.includes(label));
  return {
    async finish(clientShareOverTarget) {
      const after = await scrape(port);
      const probeResult = await probe.stop();
      const delta = (select: (series: string) => boolean) => sumOf(after, select) - sumOf(before, select);
      const sales = delta(saleBucket('le="+Inf"'));
      const salesWithinTarget = delta(saleBucket(targetLabel));
      const seconds = (after.atMs - before.atMs) / 1000;
      const loopMs = (name: string) => {
        const lagSeconds = after.values.get(`nodejs_eventloop_lag_${name}_seconds`) ?? Number.NaN;
        return Math.max(0, lagSeconds * 1000 - serverResolutionMs);
      };
      const round = (value: number) => Math.round(value * 100) / 100;
      return {
        clientShareOverTarget: round(clientShareOverTarget * 100) / 100,
        serverShareOverTarget: sales > 0 ? round((1 - salesWithinTarget / sales) * 100) / 100 : Number.NaN,
        serverLoopDelayP99Ms: round(loopMs('p99')),
        serverLoopDelayMaxMs: round(loopMs('max')),
        gcPausesOver10Ms: delta(gc('_count')) - delta(gc('_bucket', 'le="0.01"')),
        gcMsPerSecond: round((delta(gc('_sum')) * 1000) / seconds),
        probeLatenessP99Ms: round(probeResult.p99Ms),
        probeLatenessMaxMs: round(probeResult.maxMs),
      };
    },
  };
}
