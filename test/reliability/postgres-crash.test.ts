import { describe, expect, it } from 'vitest';
import { runPostgresCrash } from '../../reliability/postgres-crash.js';
import { findPostgresBinaries } from '../../src/sandbox/postgres-cluster.js';
import { planPostgres } from '../support/postgres.js';
import { expectChecksPass } from './expect-checks.js';

// The suite starts its own throwaway cluster, so it needs the server binaries (a TEST_DATABASE_URL
// is not enough). Without them: skipped outside CI, a failure in CI (planPostgres's rule).
const binaries = await findPostgresBinaries();
const plan = planPostgres({ ...process.env, TEST_DATABASE_URL: '' }, binaries);
if (plan.kind === 'fail') throw new Error(plan.reason);

/**
 * Small version of suite 8: two instances on one database, clients and an analyst's commands
 * through both, three SIGKILLs (one of the leader) while the leader's missed-run hunt is running.
 */
describe.skipIf(plan.kind === 'skip')('reliability: crash safety on PostgreSQL (small)', () => {
  it('loses no acknowledged sighting, counts none twice, keeps one open incident per target, hunts once, answers each command once', { timeout: 240_000 }, async () => {
    const report = await runPostgresCrash({ eitherKills: 2, leaderKills: 1, clients: 3, targets: 4 });
    expectChecksPass(report);
    expect(report.figures['acknowledged (202)']).toBeGreaterThan(0);
  });
});
