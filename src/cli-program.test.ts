import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runCli } from './cli.ts';
import { kassaVersion } from './version.ts';

/** The command tree on commander (docs/adr/0077), as a user at a terminal sees it: exit status,
 * stdout and stderr of runCli, in-process. None of these reach a database. */
async function kassa(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    environment: { KASSA_DATA_DIR: '/nonexistent/kassa-cli-program-test' },
  });
  return { code, stdout, stderr };
}

test('--version prints the package version and exits 0', async () => {
  const packageVersion = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
  assert.equal(kassaVersion, packageVersion);
  assert.deepEqual(await kassa('--version'), { code: 0, stdout: `${packageVersion}\n`, stderr: '' });
});

test('--help is per command and lists only the options that belong there', async () => {
  const create = await kassa('merchant', 'create', '--help');
  assert.equal(create.code, 0);
  assert.match(create.stdout, /^Usage: kassa merchant create \[options\]/);
  assert.match(create.stdout, /--email <email>/);
  assert.match(create.stdout, /--hash-mode <md5\|sha256>/);
  assert.doesNotMatch(create.stdout, /--forward-to|--outbox-id|--reason-code/);
  const listen = await kassa('listen', '--help');
  assert.match(listen.stdout, /--forward-to <url>/);
  assert.doesNotMatch(listen.stdout, /--email|--callback-url/);
  const top = await kassa('--help');
  assert.equal(top.code, 0);
  for (const area of ['merchant', 'callbacks', 'listen', 'hash', 'routing', 'chargeback'])
    assert.match(top.stdout, new RegExp(`\\n  ${area}\\b`));
});

test('a misplaced option, a missing value and an unknown command exit 2 with a readable message', async () => {
  const misplaced = await kassa('callbacks', 'list', '--email', 'x@y.z');
  assert.deepEqual([misplaced.code, misplaced.stderr], [2, "kassa: unknown option '--email'\n"]);
  const missing = await kassa('chargeback', 'create', '--trans-id');
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr, "kassa: option '--trans-id <id>' argument missing\n");
  const noDuration = await kassa('clock', 'advance');
  assert.deepEqual([noDuration.code, noDuration.stderr], [2, "kassa: missing required argument 'duration'\n"]);
  const unknown = await kassa('frobnicate');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^kassa: unknown command 'frobnicate'/);
  assert.match(unknown.stdout, /kassa merchant create/, 'the overview is printed too');
  const typo = await kassa('merchant', 'lst');
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /unknown command 'lst'\n\(Did you mean list\?\)/);
  for (const result of [misplaced, missing, unknown, typo])
    assert.doesNotMatch(result.stderr, / {4}at /, 'no stack trace');
});

test('an area without its verb prints the overview and exits 2, as before', async () => {
  const bare = await kassa('merchant');
  assert.equal(bare.code, 2);
  assert.match(bare.stdout, /kassa merchant create/);
});
