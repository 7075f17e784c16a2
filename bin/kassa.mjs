#!/usr/bin/env node
// `npx kassa …`: runs the compiled CLI (dist/cli.js, built by `npm install` through `prepare`,
// or by `npm run build`). When dist/ is missing or older than src/ — a developer edited the
// source and has not rebuilt — it runs the TypeScript through tsx instead, so a stale build
// never answers for newer code (docs/adr/0041). Either way the module run is the process entry
// (src/cli-process.ts), which calls runCli with the real streams and sets the exit code.
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { distIsFresh } from '../scripts/dist-freshness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (distIsFresh(root)) {
  await import(pathToFileURL(join(root, 'dist', 'cli.js')).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli-process.ts');
}
