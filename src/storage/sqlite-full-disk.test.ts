import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saleFields, startTestPlatform, usingPostgres } from '../testing/harness.ts';

// Test lane: runs mount/umount (child_process) for its small tmpfs, see scripts/run-tests.mjs.

/** A 16 MB tmpfs of its own, or why there cannot be one here (mounting needs root). */
function smallDisk(): { directory: string; release(): void } | { reason: string } {
  if (usingPostgres) return { reason: 'SQLite only (DATABASE_URL is set)' };
  if (process.getuid?.() !== 0) return { reason: 'mounting a small tmpfs needs root' };
  const directory = mkdtempSync(join(tmpdir(), 'kassa-full-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', directory], { stdio: 'pipe' });
  } catch (error) {
    rmSync(directory, { recursive: true, force: true });
    return { reason: `cannot mount a tmpfs here: ${(error as Error).message.split('\n')[0]}` };
  }
  return {
    directory,
    release() {
      execFileSync('umount', [directory], { stdio: 'pipe' });
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** Writes zeros until the disk refuses (ENOSPC); answers the file's path. */
function fill(directory: string): string {
  const path = join(directory, 'filler');
  const descriptor = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (let written = 0; written < 64; written += 1) {
      for (let index = 0; index < 16; index += 1) writeSync(descriptor, chunk);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(descriptor);
  }
  return path;
}

const disk = smallDisk();

/**
 * SQLite on a full disk (docs/adr/0065): each request that cannot be written is answered with the
 * protocol's 900503, nothing half-written is left, the file passes its integrity check, and once
 * space is back the same process serves normally again.
 */
test('SQLite disk full: 900503 per request, no corruption, normal service once space returns', {
  skip: 'reason' in disk ? disk.reason : false,
}, async (t) => {
  if ('reason' in disk) return;
  const platform = await startTestPlatform({ config: { dataDirectory: join(disk.directory, 'data') } })
    .catch((error: Error) => {
      disk.release();
      throw error;
    });
  // The database is closed before its disk is unmounted.
  t.after(async () => {
    await platform.close();
    disk.release();
  });
  const before = await platform.post(saleFields(platform.merchant));
  assert.equal(before.body.result, 'SUCCESS');

  const filler = fill(disk.directory);
  const answers: Array<{ orderId: string; body: Record<string, unknown> }> = [];
  // Free pages and WAL space may take a few payments before the file must grow: bounded.
  for (let index = 0; index < 2_000; index += 1) {
    const fields = saleFields(platform.merchant, { order_description: 'x'.repeat(200) });
    const answer = await platform.post(fields);
    answers.push({ orderId: fields.order_id!, body: answer.body });
    if (answer.body.result === 'ERROR' && answers.filter((entry) => entry.body.result === 'ERROR').length >= 5) break;
  }
  const refused = answers.filter((entry) => entry.body.result === 'ERROR');
  assert.ok(refused.length >= 5, 'the full disk was noticed');
  for (const entry of refused) {
    assert.equal(entry.body.error_code, 900503, JSON.stringify(entry.body));
  }
  const logged = platform.logLines.filter((line) => line.includes('SQLITE_FULL') || line.includes('disk is full'));
  assert.ok(logged.length > 0, 'the log names the cause');

  rmSync(filler);
  const after = [];
  for (let index = 0; index < 5; index += 1) after.push(await platform.post(saleFields(platform.merchant)));
  assert.deepEqual(after.map((answer) => answer.body.result), ['SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS', 'SUCCESS']);

  const file = platform.context.storage.sqliteFile!;
  assert.equal(file.pragma('integrity_check', { simple: true }), 'ok');
  const stored = new Set((await platform.context.storage.db.selectFrom('payments').select('order_id').execute())
    .map((row) => row.order_id));
  for (const entry of answers) {
    assert.equal(stored.has(entry.orderId), entry.body.result === 'SUCCESS', `${entry.orderId}: ${entry.body.result}`);
  }
  const withoutOperation = await platform.context.storage.db.selectFrom('payments as p')
    .leftJoin('payment_operations as o', 'o.trans_id', 'p.trans_id')
    .select('p.trans_id').where('o.operation_id', 'is', null).execute();
  assert.deepEqual(withoutOperation, []);
});
