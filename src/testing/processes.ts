import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { distIsFresh } from '../../scripts/dist-freshness.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The node arguments that start the real server as its own process: the compiled
 * `dist/server.js`, as production runs it, when dist/ is built from the source as it is now
 * (`npm test` builds it first); otherwise the TypeScript through tsx, so a test never runs a
 * stale build. tsx cost ~1.5 s of CPU per start, most of a process test's time.
 */
export function serverProcessArguments(): string[] {
  if (distIsFresh(root)) return ['--enable-source-maps', join(root, 'dist', 'server.js')];
  return ['--import', 'tsx', 'src/server.ts'];
}
