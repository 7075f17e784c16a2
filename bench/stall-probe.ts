/**
 * An idle process that only watches its own event loop (1 ms resolution) and, on SIGTERM,
 * prints how late its timers ran as JSON: `{ p50Ms, p99Ms, maxMs, samples }`. Run beside a
 * load, it tells what the machine did to a process that had nothing to do — scheduling delay
 * on shared cores, the host's own stalls — which no change inside Kassa can remove.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
const milliseconds = (nanoseconds: number) => Math.round(nanoseconds / 1e4) / 100;
const bound = setTimeout(() => process.exit(0), 10 * 60_000); // never outlives a forgotten parent
process.on('SIGTERM', () => {
  histogram.disable();
  clearTimeout(bound);
  process.stdout.write(`${JSON.stringify({
    p50Ms: milliseconds(histogram.percentile(50)), p99Ms: milliseconds(histogram.percentile(99)),
    maxMs: milliseconds(histogram.max), samples: histogram.count,
  })}\n`);
  process.exit(0);
});
process.stdout.write('ready\n');
