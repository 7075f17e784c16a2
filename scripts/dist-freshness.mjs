// Whether dist/ was built from the source as it is now. Shared by bin/kassa.mjs (which falls back
// to running the TypeScript when the build is missing or stale) and scripts/build.mjs
// (`--if-stale`, used by `npm start`). Plain JavaScript and node: modules only, so it costs the
// CLI a few milliseconds (one stat per source file) and no loader.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The files the build writes, relative to the repository root. */
export const builtFiles = ['dist/server.js', 'dist/cli.js'];

/** True when every built file exists and is at least as new as every non-test .ts file under src/.
 * Modification times, not hashes: an edit, a checkout or a pull makes the source newer, and
 * checking is cheap enough to do on every `kassa` command. */
export function distIsFresh(root) {
  let builtAtMs = Infinity;
  for (const file of builtFiles) {
    try {
      builtAtMs = Math.min(builtAtMs, statSync(join(root, file)).mtimeMs);
    } catch {
      return false; // not built yet
    }
  }
  for (const name of readdirSync(join(root, 'src'), { recursive: true })) {
    // Tests are not part of the build; directories are skipped (adding a test changes its folder).
    if (!name.endsWith('.ts') || name.endsWith('.test.ts')) continue;
    if (statSync(join(root, 'src', name)).mtimeMs > builtAtMs) return false;
  }
  return true;
}
