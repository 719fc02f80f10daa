import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { migrate } from '../../src/store/postgres/migrate.js';
import { createPool } from '../../src/store/postgres/pool.js';
import { findPostgresBinaries, startCluster } from './postgres-cluster.js';

/**
 * PostgreSQL for tests. A test file asks `testPostgres()` for a server:
 * - TEST_DATABASE_URL when set (its role needs CREATEDB: each file gets its own database);
 * - otherwise the run's throwaway cluster, started by the first file that asks (under a
 *   lock in the folder the globalSetup made) and stopped by the globalSetup's teardown;
 * - with no PostgreSQL installed: undefined outside CI (the tests skip, and ONE line says
 *   why and how to enable them), a thrown error in CI (CI=true), where skipping would hide
 *   that nothing was tested.
 * `createTestDatabase(server)` then makes a fresh database for the file.
 */
export type PostgresPlan =
  | { kind: 'url'; url: string }
  | { kind: 'cluster'; binDir: string }
  | { kind: 'skip'; reason: string }
  | { kind: 'fail'; reason: string };

const HOW_TO =
  'install PostgreSQL (Debian: apt-get install postgresql) or set TEST_DATABASE_URL=postgres://user@host:port/db (a role with CREATEDB)';

/** What to do, from the environment and where the binaries are (pure, so the CI rule is tested). */
export function planPostgres(env: Record<string, string | undefined>, binDir: string | undefined): PostgresPlan {
  const url = env.TEST_DATABASE_URL?.trim();
  if (url) return { kind: 'url', url };
  if (binDir) return { kind: 'cluster', binDir };
  const reason = `PostgreSQL tests: no PostgreSQL server binaries (pg_config --bindir, /usr/lib/postgresql/*/bin) and no TEST_DATABASE_URL; ${HOW_TO}.`;
  return env.CI === 'true' || env.CI === '1' ? { kind: 'fail', reason: `${reason} In CI they must run, so this fails.` } : { kind: 'skip', reason: `${reason} Skipped.` };
}

let serverPromise: Promise<string | undefined> | undefined;

/** The server URL for this run, or undefined when the PostgreSQL tests are to be skipped. */
export function testPostgres(): Promise<string | undefined> {
  serverPromise ??= resolveServer();
  return serverPromise;
}

async function resolveServer(): Promise<string | undefined> {
  const plan = planPostgres(process.env, await findPostgresBinaries());
  const harness = inject('sightlinePostgresHarness');
  if (!harness) throw new Error('test/support/postgres-global.ts is not in vitest.config.ts globalSetup; the PostgreSQL tests need it.');
  switch (plan.kind) {
    case 'url':
      return plan.url;
    case 'fail':
      throw new Error(plan.reason);
    case 'skip':
      if (await claim(join(harness, 'skip-noted'))) console.warn(plan.reason);
      return undefined;
    case 'cluster':
      return sharedCluster(harness, plan.binDir);
  }
}

/** mkdir is atomic: exactly one caller of the run gets true. */
async function claim(path: string): Promise<boolean> {
  try {
    await mkdir(path);
    return true;
  } catch {
    return false;
  }
}

async function sharedCluster(harness: string, binDir: string): Promise<string> {
  const ready = join(harness, 'cluster.json');
  if (await claim(join(harness, 'starting'))) {
    let result: { url?: string; error?: string };
    try {
      await writeFile(join(harness, 'bin-dir'), binDir);
      const cluster = await startCluster(binDir, (dir) => writeFile(join(harness, 'data-dir'), dir));
      result = { url: cluster.url };
    } catch (err) {
      result = { error: `The throwaway PostgreSQL cluster did not start: ${(err as Error).message}` };
    }
    await writeFile(`${ready}.tmp`, JSON.stringify(result));
    await rename(`${ready}.tmp`, ready);
  }
  // Another file may be starting it: wait (bounded) for its answer.
  for (let i = 0; i < 900; i++) {
    const text = await readFile(ready, 'utf8').catch(() => undefined);
    if (text) {
      const result = JSON.parse(text) as { url?: string; error?: string };
      if (result.url) return result.url;
      throw new Error(result.error);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('The throwaway PostgreSQL cluster took more than 90 s to start; see the data folder named in the harness folder.');
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database on `server` for one test file; `drop()` removes it (and ends its sessions). */
export async function createTestDatabase(server: string): Promise<TestDatabase> {
  const name = `sightline_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (err) {
    throw new Error(`Cannot create a test database on ${redact(server)} (${(err as Error).message}); its role needs CREATEDB.`, { cause: err });
  } finally {
    await admin.end();
  }
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: server });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@]*@/, '//$1:***@');
}

/**
 * Two instances on one fresh database for a `describe` block: a migrated pool per instance
 * (named for pg_stat_activity), created before the block's tests and ended (database dropped)
 * after them. Read `pools.a` / `pools.b` inside hooks and tests, not at collection time.
 */
export function useTwoInstances(server: string, names: [string, string] = ['instance-a', 'instance-b']): { a: pg.Pool; b: pg.Pool; url: string } {
  const pools = {} as { a: pg.Pool; b: pg.Pool; url: string };
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(server);
    pools.url = db.url;
    pools.a = createPool({ url: db.url, applicationName: names[0] });
    pools.b = createPool({ url: db.url, applicationName: names[1] });
    await Promise.all([migrate(pools.a), migrate(pools.b)]);
  });
  afterAll(async () => {
    await pools.a?.end();
    await pools.b?.end();
    await db?.drop();
  });
  return pools;
}

/** One migrated pool on a fresh database for a `describe` block (see useTwoInstances). */
export function useMigratedDatabase(server: string): { pool: pg.Pool; url: string } {
  const db = {} as { pool: pg.Pool; url: string };
  let created: TestDatabase | undefined;
  beforeAll(async () => {
    created = await createTestDatabase(server);
    db.url = created.url;
    db.pool = createPool({ url: created.url });
    await migrate(db.pool);
  });
  afterAll(async () => {
    await db.pool?.end();
    await created?.drop();
  });
  return db;
}
