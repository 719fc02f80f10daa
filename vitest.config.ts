import { defineConfig } from 'vitest/config';

/**
 * Most files run in the `shared` project, where a worker process is reused from file to file
 * (isolate: false): most of a file's cost was its start-up (a fresh fork importing the emulators,
 * zod schemas, pg, the transforms) rather than its tests, and a reused process pays that once per
 * worker instead of once per file.
 *
 * `ownProcess`: files that need a fresh process, because they
 * - load the Webex SDK (webex-node-bot-framework) after pointing it at an emulator through
 *   process.env: the SDK reads those once, when first loaded;
 * - patch or count process-wide things (console, unhandledRejection listeners, fake timers around
 *   the SDK, heap size);
 * - start browsers and whole sandboxes.
 */
const ownProcess = [
  'test/sandbox/**/*.test.ts',
  'test/emulators/webex/websocket.test.ts',
  'test/transport/webex/**/*.test.ts',
  'test/core/console-to-logger.test.ts',
  'test/observability/idle-gc.test.ts',
];

/**
 * `timingBound`: files whose checks hold wall-clock bounds (SIGTERM within 10 s, a takeover, a
 * settle within n s) over real processes: they run last, one at a time, alone on the machine, in
 * their own process each (three files at a time made the faults and leader-election suites flaky).
 */
const timingBound = ['test/reliability/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/store/postgres/leader.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Real HTTP emulators on loopback, each on a random port, so files never collide on ports.
    pool: 'forks',
    // PostgreSQL tests share one throwaway cluster per run, started lazily (test/support/postgres.ts).
    globalSetup: ['test/support/postgres-global.ts'],
    env: {
      // The Webex SDK reads these when it is first loaded; set them before any test imports it.
      HYDRA_SERVICE_URL: 'http://127.0.0.1:9/v1',
      U2C_SERVICE_URL: 'http://127.0.0.1:9/u2c/api/v1',
      LOG_LEVEL: 'silent',
    },
    // vitest's default is one worker per core minus one: ONE on a 2-core machine (CI's). Group 0
    // (shared and ownProcess files) runs two files at a time; group 1 (timingBound) starts after it
    // and runs one file at a time, as the whole suite did before.
    projects: [
      {
        extends: true,
        test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: [...ownProcess, ...timingBound], isolate: false, maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'own-process', include: ownProcess, isolate: true, maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'timing-bound', include: timingBound, isolate: true, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
