#!/usr/bin/env node
// `npm run build` (and `prepare`, so `npm install` / `npm ci` build too): compiles the server and
// the CLI into dist/ with esbuild — one bundle each, npm packages left as imports — so production
// and `npx kassa` run plain JavaScript instead of loading TypeScript through tsx at every start.
// esbuild only strips types; `npm run typecheck` is the type check (docs/adr/0041).
//
// `--if-stale` builds only when dist/ is missing or older than src/ (used by `npm start`, so a
// server started after an edit or a pull never runs old code).
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { distIsFresh } from './dist-freshness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (process.argv.includes('--if-stale') && distIsFresh(root)) process.exit(0);

await build({
  absWorkingDir: root,
  // Output names are fixed (dist/server.js, dist/cli.js) whatever the entry files are called:
  // bin/kassa.mjs, `npm start` and dist-freshness.mjs name them.
  entryPoints: { server: 'src/server.ts', cli: 'src/cli-process.ts' },
  outdir: 'dist',
  bundle: true,
  // Dependencies stay in node_modules: native addons (better-sqlite3) and pino's worker
  // threads must load from there, and bundling them would gain little.
  packages: 'external',
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: true,
  logLevel: 'warning',
});
