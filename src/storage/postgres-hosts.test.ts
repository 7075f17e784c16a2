import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresHostChoice, postgresUrlsOf } from './postgres-hosts.ts';

test('a libpq-style multi-host URL is split into one URL per host, user, database and options kept', () => {
  assert.deepEqual(postgresUrlsOf('postgres://kassa:secret@db1:5432,db2:5433/pay?sslmode=require'), [
    'postgres://kassa:secret@db1:5432/pay?sslmode=require',
    'postgres://kassa:secret@db2:5433/pay?sslmode=require',
  ]);
  assert.deepEqual(postgresUrlsOf('postgresql://db/pay'), ['postgresql://db/pay']);
  for (const wrong of ['mysql://db/pay', 'postgres://db1,,db2/pay', 'postgres://db1:99999/pay', 'not a url']) {
    assert.equal(postgresUrlsOf(wrong), undefined, wrong);
  }
});

test('the host choice moves on from a failed host once, however many connections saw it fail', () => {
  const choice = new PostgresHostChoice(['postgres://a/db', 'postgres://b/db']);
  assert.equal(choice.current, 'postgres://a/db');
  choice.failed('postgres://a/db');
  choice.failed('postgres://a/db');
  assert.equal(choice.current, 'postgres://b/db');
  choice.failed('postgres://b/db');
  assert.equal(choice.current, 'postgres://a/db');
});
