import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { stopCluster } from './postgres-cluster.js';

/**
 * vitest globalSetup: a folder shared by every test file of this run, where the first
 * PostgreSQL test starts the throwaway cluster (test/support/postgres.ts) and the others
 * find it. Nothing starts here, so a run without PostgreSQL tests pays nothing; the
 * teardown stops the cluster, if one was started, and deletes everything.
 * vitest runs this once per project (vitest.config.ts has two); both get the same folder,
 * so the run has one cluster, stopped when the last project tears down.
 */
interface SharedHarness {
  path: Promise<string>;
  users: number;
}
const key = Symbol.for('sightline.postgresHarness');
const holder = globalThis as { [key]?: SharedHarness };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const shared = (holder[key] ??= { path: mkdtemp(join(tmpdir(), 'sightline-pg-harness-')), users: 0 });
  shared.users += 1;
  const harness = await shared.path;
  project.provide('sightlinePostgresHarness', harness);
  return async () => {
    shared.users -= 1;
    if (shared.users > 0) return;
    delete holder[key];
    const dataDir = await readFile(join(harness, 'data-dir'), 'utf8').catch(() => undefined);
    const binDir = await readFile(join(harness, 'bin-dir'), 'utf8').catch(() => undefined);
    if (dataDir) await stopCluster(dataDir, binDir);
    await rm(harness, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    sightlinePostgresHarness: string;
  }
}
