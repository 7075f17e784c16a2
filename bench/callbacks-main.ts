import pg from 'pg';
import { benchCallbacks } from './callbacks.ts';

/** `npx tsx bench/callbacks-main.ts`: callback delivery figures on SQLite, and on PostgreSQL
 * when DATABASE_URL (or the local default) answers. */
const postgresUrl = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

async function postgresReachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

const rows: Array<Record<string, string | number>> = [];
rows.push({ database: 'sqlite', ...(await benchCallbacks()) });
if (await postgresReachable(postgresUrl)) rows.push({ database: 'postgres', ...(await benchCallbacks({ databaseUrl: postgresUrl })) });
else process.stdout.write(`PostgreSQL not reachable at ${postgresUrl}; skipped\n`);
console.table(rows);
