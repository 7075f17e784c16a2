#!/usr/bin/env node
// `npm run build` (and `prepare`, so `npm install` / `npm ci` build too): compiles the server and
// the CLI into dist/ with esbuild — one bundle each, most npm packages left as imports — so production
// and `npx kassa` run plain JavaScript instead of loading TypeScript through tsx at every start.
// esbuild only strips types; `npm run typecheck` is the type check (docs/adr/0041).
//
// `--if-stale` builds only when dist/ is missing or older than src/ (used by `npm start`, so a
// server started after an edit or a pull never runs old code).
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { distIsFresh } from './dist-freshness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (process.argv.includes('--if-stale') && distIsFresh(root)) process.exit(0);

// Pure-JavaScript packages bundled in: Kysely's ESM build is some hundred small modules, and
// loading them one by one was a third of `kassa --help`'s time. Every other dependency stays
// in node_modules: native addons (better-sqlite3), optional native imports (pg), and pino's
// worker threads must load from there.
const bundled = new Set(['kysely', 'uuid']);
const { dependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const external = Object.keys(dependencies).filter((name) => !bundled.has(name));

await build({
  absWorkingDir: root,
  // Output names are fixed (dist/server.js, dist/cli.js) whatever the entry files are called:
  // bin/kassa.mjs, `npm start` and dist-freshness.mjs name them.
  entryPoints: { server: 'src/server.ts', cli: 'src/cli-process.ts' },
  outdir: 'dist',
  bundle: true,
  external,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  logLevel: 'warning',
});

// The SDK package (packages/sdk) is compiled by tsc into its own dist/ with declarations, so a
// merchant's project can install it from the workspace or from a packed tarball.
if (!process.argv.includes('--if-stale') || !existsSync(join(root, 'packages/sdk/dist/index.js'))) {
  const compiler = join(root, 'node_modules/typescript/bin/tsc');
  const arguments_ = [compiler, '-p', 'packages/sdk/tsconfig.build.json'];
  const result = spawnSync(process.execPath, arguments_, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
