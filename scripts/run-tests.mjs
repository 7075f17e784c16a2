#!/usr/bin/env node
// `npm test` entry point.
//
// Why a script instead of a glob in package.json: Node 20's `node --test`
// does not expand globs itself (that arrived in Node 21), and shell globbing
// (`**`) depends on the shell npm happens to use. Walking the tree here is
// portable and lets us filter with extra argv: `npm test -- src/domain`.
import { readFileSync, readdirSync } from 'node:fs';
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

// Two lanes, run side by side: integration files (a real database, a server process, a
// browser) one at a time, since two at once on the 2-core machine made timing-sensitive files
// flaky under load; and pure unit files, one at a time beside them. Most of a unit file's time
// is starting node and tsx, so that lane costs the integration lane little. A file is an
// integration file when it starts a platform, storage, a process or a browser.
// KASSA_TEST_CONCURRENCY raises the integration lane's concurrency for a developer with more cores.
const integrationMarkers = /startTestPlatform|openStorage|buildApp|playwright|child_process|testing\/harness/;
const isIntegration = (file) => integrationMarkers.test(readFileSync(join(root, file), 'utf8'));
const lanes = [
  { name: 'integration', files: files.filter(isIntegration), concurrency: Math.max(1, Number(process.env.KASSA_TEST_CONCURRENCY) || 1) },
  { name: 'unit', files: files.filter((file) => !isIntegration(file)), concurrency: 1 },
].filter((lane) => lane.files.length > 0);

// A whole run has a bound: a hang fails the run with a message instead of holding CI until its own limit.
const runTimeoutMs = Math.max(60_000, Number(process.env.KASSA_TEST_RUN_TIMEOUT_MS) || 15 * 60_000);

// The closing lines of node's TAP reporter. Each lane's are held back and added up into one
// set printed last, in the same format, so a reader of the summary (CI) sees the whole run.
const summaryLine = /^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ([\d.]+)$/;
const totals = new Map();
const children = new Set();
const startedMs = Date.now();

function runLane(lane, output) {
  const args = ['--import', 'tsx', '--test', '--test-reporter=tap', `--test-concurrency=${lane.concurrency}`, ...lane.files];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  let pending = '';
  const take = (line) => {
    const match = summaryLine.exec(line);
    if (/^1\.\.\d+$/.test(line)) return; // each lane's plan; one plan for the run is printed last
    if (match) totals.set(match[1], (totals.get(match[1]) ?? 0) + Number(match[2]));
    else output(`${line}\n`);
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop();
    lines.forEach(take);
  });
  return new Promise((resolve) => {
    child.on('error', (error) => {
      console.error(`run-tests: failed to start node for the ${lane.name} lane: ${error.message}`);
      resolve(1);
    });
    child.on('close', (code, signal) => {
      if (pending) take(pending);
      children.delete(child);
      if (signal) console.error(`run-tests: the ${lane.name} lane was killed by ${signal}`);
      resolve(signal ? 1 : code ?? 1);
    });
  });
}

const runTimer = setTimeout(() => {
  console.error(`run-tests: the test run exceeded ${runTimeoutMs / 60_000} minutes; stopping it`);
  for (const child of children) child.kill('SIGKILL');
}, runTimeoutMs);
runTimer.unref();

// Ctrl-C reaches the whole process group, so the lanes already get SIGINT; this process must not
// die before printing the summary. SIGTERM may be sent to this process alone: pass it on.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => { for (const child of children) child.kill('SIGTERM'); });

// The first lane streams as it runs; the others' output is held and printed after it, so no
// two files' lines interleave.
const held = lanes.map(() => []);
const codes = await Promise.all(lanes.map((lane, index) =>
  runLane(lane, index === 0 ? (text) => process.stdout.write(text) : (text) => held[index].push(text))));
for (const texts of held) process.stdout.write(texts.join(''));
totals.set('duration_ms', Date.now() - startedMs);
process.stdout.write(`1..${totals.get('tests') ?? 0}\n`);
for (const name of ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo', 'duration_ms']) {
  process.stdout.write(`# ${name} ${totals.get(name) ?? 0}\n`);
}
process.exit(codes.some((code) => code !== 0) ? 1 : 0);
