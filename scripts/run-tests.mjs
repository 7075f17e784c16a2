#!/usr/bin/env node
// `npm test` entry point.
//
// Why a script instead of a glob in package.json: Node 20's `node --test`
// does not expand globs itself (that arrived in Node 21), and shell globbing
// (`**`) depends on the shell npm happens to use. Walking the tree here is
// portable and lets us filter with extra argv: `npm test -- src/domain`.
import { readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

// Always work from the repository root so relative test paths and the
// `--import tsx` resolution (which looks in ./node_modules) are stable no
// matter where the script is invoked from.
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SEARCH_DIRS = ['src', 'test'];

// Small recursive walk; skips node_modules and dot-directories (e.g. a stray
// .cache) so we never pick up third-party test files.
function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if (err.code === 'ENOENT') return out; // a missing src/ or test/ is fine
    throw err;
  }
  for (const entry of entries) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else if (entry.isFile() && entry.name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

// Paths relative to the root, with forward slashes, so filters written as
// `src/domain` work on every platform.
const toPosix = (p) => p.split(sep).join('/');
let files = SEARCH_DIRS.flatMap((d) => walk(join(root, d), []))
  .map((f) => toPosix(relative(root, f)))
  .sort(); // deterministic order => reproducible runs and diffable output

// Extra argv are substring filters: keep a file if its path contains any of
// them. A leading "./" is ignored so shell tab-completion output works too.
const filters = process.argv.slice(2).map((f) => toPosix(f).replace(/^\.\//, ''));
if (filters.length > 0) {
  files = files.filter((f) => filters.some((needle) => f.includes(needle)));
}

if (files.length === 0) {
  const what = filters.length ? ` matching ${filters.map((f) => JSON.stringify(f)).join(', ')}` : '';
  console.error(`run-tests: no test files (*.test.ts under ${SEARCH_DIRS.join('/, ')}/)${what}`);
  // Failing here keeps CI from going green when tests were accidentally
  // moved, renamed or filtered away.
  process.exit(1);
}

// One file at a time by default: two at once on the 2-core machine made timing-
// sensitive files (server start-up in a child process, CLI processes, browser
// waits) flaky under load, and one PostgreSQL run once hung. KASSA_TEST_CONCURRENCY
// raises it for a developer with more cores.
const concurrency = Math.max(1, Number(process.env.KASSA_TEST_CONCURRENCY) || 1);
// A whole run has a bound: a hang fails the run with a message instead of
// holding CI until its own limit.
const runTimeoutMs = Math.max(60_000, Number(process.env.KASSA_TEST_RUN_TIMEOUT_MS) || 15 * 60_000);
const args = ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files];

// stdio is inherited so the test runner's own reporter output (including the
// final `# tests N / # pass N / # fail N` summary) reaches the terminal/CI log
// unchanged.
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
const runTimer = setTimeout(() => {
  console.error(`run-tests: the test run exceeded ${runTimeoutMs / 60_000} minutes; stopping it`);
  child.kill('SIGKILL');
}, runTimeoutMs);
runTimer.unref();

// Ctrl-C is delivered to the whole process group, so the child already gets
// SIGINT; we just must not die before it has printed its summary. SIGTERM may
// be sent to this process alone (e.g. by a CI job runner), so pass it on
// rather than leaving an orphaned test run behind.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));

child.on('error', (err) => {
  console.error(`run-tests: failed to start node: ${err.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) {
    console.error(`run-tests: test runner killed by ${signal}`);
    process.exit(1);
  }
  process.exit(code ?? 1);
});
