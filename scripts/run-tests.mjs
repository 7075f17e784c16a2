#!/usr/bin/env node
// `npm test` entry point.
//
// Why a script instead of a glob in package.json: Node 20's `node --test`
// does not expand globs itself (that arrived in Node 21), and shell globbing
// (`**`) depends on the shell npm happens to use. Walking the tree here is
// portable and lets us filter with extra argv: `npm test -- src/domain`.
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

// Always work from the repository root so relative test paths and the
// `--import tsx` resolution (which looks in ./node_modules) are stable no
// matter where the script is invoked from.
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SEARCH_DIRS = ['src', 'test', 'packages/sdk/test'];

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

// Two lanes, run side by side, each one file at a time, so at most two files run at once on
// the 2-core machine (more made timing-sensitive files flaky under load):
// - in-process integration files (a platform driven through inject() on a real database);
// - files that drive a browser or spawn processes, which are long but mostly wait, together
//   with the pure unit files, whose time is mostly node and tsx starting.
// A file's lane is found by what it imports. KASSA_TEST_CONCURRENCY raises each lane's
// concurrency for a developer with more cores.
const integrationMarkers = /startTestPlatform|openStorage|buildApp|testing\/harness/;
const processMarkers = /playwright|child_process/;
const textOf = (file) => readFileSync(join(root, file), 'utf8');
const inProcessIntegration = (file) => !processMarkers.test(textOf(file)) && integrationMarkers.test(textOf(file));
const laneConcurrency = Math.max(1, Number(process.env.KASSA_TEST_CONCURRENCY) || 1);
const lanes = [
  { name: 'integration', files: files.filter(inProcessIntegration), concurrency: laneConcurrency },
  {
    name: 'processes, browsers and unit',
    files: files.filter((file) => !inProcessIntegration(file)),
    concurrency: laneConcurrency,
  },
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
  const args = ['--enable-source-maps', '--test', '--test-reporter=tap', `--test-concurrency=${lane.concurrency}`,
    ...lane.files.map((file) => bundleOf.get(file))];
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

// Each test file is bundled with the source it imports (packages stay imports) by esbuild
// before it runs, and node runs the bundles without a loader: through tsx's loader hooks every
// file cost ~1 s of CPU to import the platform, a third of the suite. `import.meta.url` is
// replaced by each source file's own URL, so paths relative to a module keep meaning what they
// say; inline source maps (--enable-source-maps) keep stack traces on the .ts lines.
const buildDirectory = join(root, '.test-build', String(process.pid));
const ownUrlPlugin = {
  name: 'own-import-meta-url',
  setup(builder) {
    builder.onLoad({ filter: /\.ts$/ }, ({ path }) => {
      const ownUrl = JSON.stringify(pathToFileURL(path).href);
      return { contents: readFileSync(path, 'utf8').replaceAll('import.meta.url', ownUrl), loader: 'ts' };
    });
  },
};
const bundleOf = new Map(files.map((file) => [file, join(buildDirectory, file.replace(/\.ts$/, '.mjs'))]));
mkdirSync(buildDirectory, { recursive: true });
process.on('exit', () => rmSync(buildDirectory, { recursive: true, force: true }));
try {
  await build({
    entryPoints: files.map((file) => join(root, file)),
    outdir: buildDirectory, outbase: root, outExtension: { '.js': '.mjs' },
    bundle: true, splitting: false, platform: 'node', format: 'esm', target: 'node20', packages: 'external',
    sourcemap: 'inline', logLevel: 'error', plugins: [ownUrlPlugin],
  });
} catch (error) {
  console.error(`run-tests: bundling the test files failed: ${error.message}`);
  process.exit(1);
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
