#!/usr/bin/env node
// `npm test` entry point.
//
// Why a script instead of a glob in package.json: Node 20's `node --test`
// does not expand globs itself (that arrived in Node 21), and shell globbing
// (`**`) depends on the shell npm happens to use. Walking the tree here is
// portable and lets us filter with extra argv: `npm test -- src/domain`.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
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

// Files run as a pool of two (one per core on this machine; more made timing-sensitive files
// flaky under load), each file its own node process, the next file starting as soon as a slot
// is free, so neither kind waits for the other (two fixed lanes left one core idle for the
// last ~20 s). Files that drive a browser or spawn processes run one at a time: they are long,
// heavy and the most timing-sensitive.
// A file's kind is found by what it imports. KASSA_TEST_CONCURRENCY raises the pool for a
// developer with more cores.
const processMarkers = /playwright|child_process/;
const textOf = (file) => readFileSync(join(root, file), 'utf8');
const spawnsOrDrives = (file) => processMarkers.test(textOf(file));
const slots = Math.max(2, 2 * (Number(process.env.KASSA_TEST_CONCURRENCY) || 1));
const processSlots = Math.max(1, Number(process.env.KASSA_TEST_PROCESS_SLOTS) || 1);
// Longest first (the last run's times, kept in .test-build/; a file not timed yet counts as
// long), so the run does not end with one long file running alone.
const timingsFile = join(root, '.test-build', 'file-times.json');
let lastTimes = {};
try {
  lastTimes = JSON.parse(readFileSync(timingsFile, 'utf8'));
} catch {
  // no earlier run: the files keep their order
}
const untimedMs = 1e9;
const longestFirst = (a, b) => (lastTimes[b] ?? untimedMs) - (lastTimes[a] ?? untimedMs);
const queues = {
  processes: files.filter(spawnsOrDrives).sort(longestFirst),
  others: files.filter((file) => !spawnsOrDrives(file)).sort(longestFirst),
};

// A whole run has a bound: a hang fails the run with a message instead of holding CI until its own limit.
const runTimeoutMs = Math.max(60_000, Number(process.env.KASSA_TEST_RUN_TIMEOUT_MS) || 15 * 60_000);

// The closing lines of node's TAP reporter. Each file's are held back and added up into one
// set printed last, in the same format, so a reader of the summary (CI) sees the whole run.
const summaryLine = /^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ([\d.]+)$/;
const totals = new Map();
const children = new Set();
const startedMs = Date.now();
const fileTimes = [];

const timeCommand = ['/usr/bin/time'].find((path) => existsSync(path));
/** User + system CPU milliseconds GNU time wrote for a file, if it did. */
function cpuOf(cpuFile) {
  try {
    const [user, system] = readFileSync(cpuFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    return Number.isFinite(user + system) ? Math.round((user + system) * 1000) : undefined;
  } catch {
    return undefined;
  }
}

/** Runs one test file; its output is printed whole once it ends, so no two files interleave. */
function runFile(file) {
  const nodeArguments = ['--enable-source-maps', '--test-reporter=tap', bundleOf.get(file)];
  // CPU seconds of the file and of every process it waited for (Chromium, a spawned Kassa), by
  // GNU time when there is one: on a loaded machine wall times mislead, CPU times do not.
  const cpuFile = `${bundleOf.get(file)}.cpu`;
  const [command, commandArguments] = timeCommand
    ? [timeCommand, ['-f', '%U %S', '-o', cpuFile, process.execPath, ...nodeArguments]]
    : [process.execPath, nodeArguments];
  const child = spawn(command, commandArguments, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const output = [];
  let pending = '';
  let failures = 0;
  const take = (line) => {
    const match = summaryLine.exec(line);
    if (/^1\.\.\d+$/.test(line) || line === 'TAP version 13') return; // one plan and header for the run
    if (match) totals.set(match[1], (totals.get(match[1]) ?? 0) + Number(match[2]));
    else output.push(`${line}\n`);
    if (match?.[1] === 'fail') failures += Number(match[2]);
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop();
    lines.forEach(take);
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const fileStartedMs = Date.now();
  return new Promise((resolve) => {
    child.on('error', (error) => {
      console.error(`run-tests: failed to start node for ${file}: ${error.message}`);
      resolve(1);
    });
    child.on('close', (code, signal) => {
      if (pending) take(pending);
      children.delete(child);
      const durationMs = Date.now() - fileStartedMs;
      const cpuMs = cpuOf(cpuFile);
      fileTimes.push({ file, durationMs, cpuMs });
      const cpuLine = cpuMs === undefined ? '' : `# cpu ${file}: ${cpuMs} ms\n`;
      process.stdout.write(`# file ${file}\n${output.join('')}# file ${file}: ${durationMs} ms\n${cpuLine}`);
      if (stderr) process.stderr.write(stderr);
      if (signal) console.error(`run-tests: ${file} was killed by ${signal}`);
      // A file that failed before its tests ran (a syntax error, a crash) reports no failure.
      if (code !== 0 && failures === 0) totals.set('fail', (totals.get('fail') ?? 0) + 1);
      resolve(signal ? 1 : code ?? 1);
    });
  });
}

/** Takes files from the queues until both are empty, at most `slots` at once, one process file at a time. */
async function runPool() {
  const codes = [];
  let processesRunning = 0;
  let running = 0;
  await new Promise((done) => {
    const next = () => {
      while (running < slots) {
        const takeProcess = processesRunning < processSlots && queues.processes.length > 0;
        const file = takeProcess ? queues.processes.shift() : queues.others.shift();
        if (file === undefined) break;
        running += 1;
        if (takeProcess) processesRunning += 1;
        void runFile(file).then((code) => {
          codes.push(code);
          running -= 1;
          if (takeProcess) processesRunning -= 1;
          next();
        });
      }
      if (running === 0) done();
    };
    next();
  });
  return codes;
}

// Each test file is bundled with the source it imports (packages stay imports) by esbuild
// before it runs, and node runs the bundles without a loader: through tsx's loader hooks every
// file cost ~1 s of CPU to import the platform, a third of the suite. `import.meta.url` is
// replaced by each source file's own URL, so paths relative to a module keep meaning what they
// say; inline source maps (--enable-source-maps) keep stack traces on the .ts lines.
// The tests that start the real server or CLI as a process (server.process, cli.process, the
// crash test) run dist/, the compiled JavaScript production runs, when it is built from the
// source as it is (src/testing/processes.ts, bin/kassa.mjs); starting them through tsx cost
// ~1.5 s of CPU each. So dist/ is brought up to date first (a no-op when it is fresh).
const buildScript = join(root, 'scripts', 'build.mjs');
const distBuild = spawnSync(process.execPath, [buildScript, '--if-stale'], { cwd: root, stdio: 'inherit' });
if (distBuild.status !== 0) {
  console.error('run-tests: building dist/ failed');
  process.exit(1);
}

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

process.stdout.write('TAP version 13\n');
const codes = await runPool();
for (const { file, durationMs } of fileTimes) lastTimes[file] = durationMs;
writeFileSync(timingsFile, JSON.stringify(lastTimes, null, 1));
// What to shorten next: the slowest files, as TAP comments (wall time, two at a time).
for (const { file, durationMs, cpuMs } of fileTimes.sort((a, b) => b.durationMs - a.durationMs).slice(0, 10)) {
  process.stdout.write(`# slow: ${file} ${durationMs} ms${cpuMs === undefined ? '' : ` (cpu ${cpuMs} ms)`}\n`);
}
const sumOf = (key) => fileTimes.reduce((sum, time) => sum + (time[key] ?? 0), 0);
process.stdout.write(`# files' wall ${sumOf('durationMs')} ms, cpu ${sumOf('cpuMs')} ms\n`);
totals.set('duration_ms', Date.now() - startedMs);
process.stdout.write(`1..${totals.get('tests') ?? 0}\n`);
for (const name of ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo', 'duration_ms']) {
  process.stdout.write(`# ${name} ${totals.get(name) ?? 0}\n`);
}
process.exit(codes.some((code) => code !== 0) ? 1 : 0);
