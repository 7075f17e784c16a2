import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newId } from './ids.ts';

test('ids made in the same millisecond sort in the order they were made', () => {
  const ids = Array.from({ length: 1000 }, () => newId(1_795_000_000_000));
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
  assert.match(ids[0], /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test('a later millisecond sorts after an earlier one', () => {
  const earlier = newId(1_795_000_000_000);
  const later = newId(1_795_000_000_001);
  assert.ok(later > earlier);
});
