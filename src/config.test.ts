import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, configFromEnvironment } from './config.ts';

function problemsOf(environment: NodeJS.ProcessEnv): string[] {
  try {
    configFromEnvironment(environment);
    return [];
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
}

test('every wrong setting is reported at once, each by its name', () => {
  const problems = problemsOf({
    PORT: 'abc',
    LOG_LEVEL: 'loud',
    KASSA_PUBLIC_URL: 'notaurl',
    KASSA_MODE: 'prod',
    KASSA_TIMEZONE: 'Mars/Olympus',
    KASSA_3DS_TIMEOUT_MS: '-5',
    KASSA_CALLBACK_POLL_MS: 'soon',
    DATABASE_URL: 'mysql://db/kassa',
    KASSA_PG_SCHEMA: 'Bad-Name',
    KASSA_SECRET_KEY: 'short',
    KASSA_TRUST_PROXY: '10.0.0.0/99,proxy.local',
  });
  const names = problems.map((problem) => problem.split(' ')[0]);
  assert.deepEqual(names.sort(), [
    'DATABASE_URL',
    'KASSA_3DS_TIMEOUT_MS',
    'KASSA_CALLBACK_POLL_MS',
    'KASSA_MODE',
    'KASSA_PG_SCHEMA',
    'KASSA_PUBLIC_URL',
    'KASSA_SECRET_KEY',
    'KASSA_TIMEZONE',
    'KASSA_TRUST_PROXY',
    'LOG_LEVEL',
    'PORT',
  ]);
  assert.ok(
    problems.every((problem) => !problem.includes('mysql://')),
    'a DATABASE_URL (and its password) is not repeated',
  );
});

test('ports, URLs and proxies in their accepted forms pass; the defaults need nothing', () => {
  assert.deepEqual(problemsOf({}), []);
  for (const PORT of ['0', '8080', '65535']) assert.deepEqual(problemsOf({ PORT }), [], PORT);
  for (const PORT of ['65536', '80.5', '-1', ' 80', '0x50', '1e3']) assert.equal(problemsOf({ PORT }).length, 1, PORT);
  const config = configFromEnvironment({
    KASSA_PUBLIC_URL: 'https://pay.example/kassa/',
    KASSA_TRUST_PROXY: 'loopback, 10.0.0.0/8,::1',
    LOG_LEVEL: 'warn',
    DATABASE_URL: 'postgresql://kassa:secret@db:5432/kassa',
    KASSA_SECRET_KEY: 'ab'.repeat(32),
  });
  assert.equal(config.publicUrl, 'https://pay.example/kassa');
  assert.equal(config.trustProxy, 'loopback, 10.0.0.0/8,::1');
  assert.equal(config.logLevel, 'warn');
  for (const url of ['http://pay.example/?a=1', 'ftp://pay.example', 'http://user@pay.example']) {
    assert.equal(problemsOf({ KASSA_PUBLIC_URL: url }).length, 1, url);
  }
});

test('metrics, drain and shutdown settings: every problem at once; multi-host DATABASE_URL accepted', () => {
  const problems = problemsOf({
    PORT: '8080', KASSA_METRICS_PORT: '8080', KASSA_METRICS_TOKEN: 'short', KASSA_DRAIN_DELAY_MS: '-5',
    KASSA_SHUTDOWN_TIMEOUT_MS: '0',
  });
  assert.deepEqual(problems.map((problem) => problem.split(' ')[0]).sort(), [
    'KASSA_DRAIN_DELAY_MS', 'KASSA_METRICS_PORT', 'KASSA_METRICS_TOKEN', 'KASSA_SHUTDOWN_TIMEOUT_MS',
  ]);
  assert.equal(problemsOf({ KASSA_METRICS_PORT: '70000' }).length, 1);
  const config = configFromEnvironment({
    KASSA_METRICS_PORT: '9464', KASSA_METRICS_TOKEN: 'a'.repeat(32), KASSA_DRAIN_DELAY_MS: '0',
    DATABASE_URL: 'postgres://kassa@db1.internal:5432,db2.internal:5433/kassa',
  });
  assert.equal(config.metricsPort, 9464);
  assert.equal(config.metricsEnabled, true);
  assert.equal(configFromEnvironment({ KASSA_METRICS: 'off' }).metricsEnabled, false);
  assert.deepEqual(problemsOf({ KASSA_METRICS: 'no' }).map((problem) => problem.split(' ')[0]), ['KASSA_METRICS']);
  const offWithPort = problemsOf({ KASSA_METRICS: 'off', KASSA_METRICS_PORT: '9464' });
  assert.deepEqual(offWithPort.map((problem) => problem.split(' ')[0]), ['KASSA_METRICS=off']);
  assert.equal(config.drainDelayMs, 0);
  assert.equal(config.shutdownTimeoutMs, 10_000);
  assert.equal(config.databaseUrl, 'postgres://kassa@db1.internal:5432,db2.internal:5433/kassa');
  assert.equal(problemsOf({ DATABASE_URL: 'postgres://kassa@db1:5432,/kassa' }).length, 1);
});
