import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { financialDay, formatTransDate, isValidTimeZone } from './dates.ts';

const transDatePattern = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const hourMs = 3_600_000;
/** 2000-01-01 .. 2099-12-31: the instants a payment platform will ever stamp. */
const instant = fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2099, 11, 31, 23, 59, 59, 999) });

test('UTC: exactly YYYY-MM-DD HH:MM:SS, milliseconds dropped', () => {
  assert.equal(formatTransDate(Date.UTC(2026, 10, 23, 9, 5, 7, 999), 'UTC'), '2026-11-23 09:05:07');
  assert.equal(formatTransDate(Date.UTC(2024, 0, 1, 0, 0, 0), 'UTC'), '2024-01-01 00:00:00');
  assert.equal(formatTransDate(Date.UTC(2024, 11, 31, 23, 59, 59), 'UTC'), '2024-12-31 23:59:59');
});

test('Asia/Almaty (UTC+6 in 2023): a known instant', () => {
  assert.equal(formatTransDate(Date.UTC(2023, 5, 15, 12, 34, 56), 'Asia/Almaty'), '2023-06-15 18:34:56');
  // 18:00 UTC is midnight in Almaty: the date moves on and the hour is 00, not 24.
  assert.equal(formatTransDate(Date.UTC(2023, 5, 15, 18, 0, 0), 'Asia/Almaty'), '2023-06-16 00:00:00');
});

test('a half-hour zone and a zone behind UTC', () => {
  assert.equal(formatTransDate(Date.UTC(2024, 0, 1, 12, 0, 0), 'Asia/Kolkata'), '2024-01-01 17:30:00');
  assert.equal(formatTransDate(Date.UTC(2024, 0, 1, 3, 15, 0), 'America/New_York'), '2023-12-31 22:15:00');
  // Summer time: New York is UTC-4 in July.
  assert.equal(formatTransDate(Date.UTC(2024, 6, 1, 3, 15, 0), 'America/New_York'), '2024-06-30 23:15:00');
});

test('property: the zone formatter agrees with the UTC fast path (Etc/UTC vs UTC)', () => {
  fc.assert(fc.property(instant, (epochMs) => {
    assert.equal(formatTransDate(epochMs, 'Etc/UTC'), formatTransDate(epochMs, 'UTC'));
  }), { numRuns: 1000 });
});

test('property: a fixed-offset zone is UTC moved by its offset, always in the exact format', () => {
  fc.assert(fc.property(instant, fc.integer({ min: -12, max: 14 }), (epochMs, offsetHours) => {
    // POSIX sign convention: Etc/GMT-6 is six hours ahead of UTC.
    const zone = offsetHours === 0 ? 'Etc/GMT' : `Etc/GMT${offsetHours > 0 ? '-' : '+'}${Math.abs(offsetHours)}`;
    const text = formatTransDate(epochMs, zone);
    assert.match(text, transDatePattern);
    assert.equal(text, formatTransDate(epochMs + offsetHours * hourMs, 'UTC'), zone);
  }), { numRuns: 1000 });
});

test('financialDay: the calendar date in the platform zone', () => {
  const lateEveningUtc = Date.UTC(2024, 2, 10, 22, 30, 0);
  assert.equal(financialDay(lateEveningUtc, 'UTC'), '2024-03-10');
  assert.equal(financialDay(lateEveningUtc, 'Asia/Almaty'), '2024-03-11');
  assert.equal(financialDay(lateEveningUtc, 'America/New_York'), '2024-03-10');
  // Two instants an hour apart fall on different financial days across local midnight.
  const almatyMidnight2023 = Date.UTC(2023, 5, 15, 18, 0, 0);
  assert.notEqual(financialDay(almatyMidnight2023 - 1, 'Asia/Almaty'), financialDay(almatyMidnight2023, 'Asia/Almaty'));
  assert.equal(financialDay(almatyMidnight2023 - 1, 'UTC'), financialDay(almatyMidnight2023, 'UTC'));
});

test('isValidTimeZone', () => {
  assert.equal(isValidTimeZone('UTC'), true);
  assert.equal(isValidTimeZone('Asia/Almaty'), true);
  assert.equal(isValidTimeZone('Mars/Olympus_Mons'), false);
  assert.equal(isValidTimeZone(''), false);
});
