import { defineConfig } from 'vitest/config';

/**
 * Files that need a process of their own. Everything else runs in the `shared` project, where a
 * worker process is reused from file to file (isolate: false): most of a file's cost was its start-up
 * (a fresh fork importing the emulators, zod schemas, pg, the transforms) rather than its tests, and
 * a reused process pays that once per worker instead of once per file.
 * A file belongs here when it
 * - loads the Webex SDK (webex-node-bot-framework) after pointing it at an emulator through
 *   process.env: the SDK reads those once, when first loaded;
 * - patches or counts process-wide things (console, unhandledRejection listeners, fake timers
 *   around the SDK, heap size);
 * - is timing-bound (the reliability suites, leader election, the end-to-end processes), so a
 *   neighbour's leftovers must not share its event loop.
 */
const ownProcess = [
  'test/reliability/**/*.test.ts',
  'test/e2e/**/*.test.ts',
  'test/sandbox/**/*.test.ts',
  'test/emulators/webex/websocket.test.ts',
  'test/transport/webex/**/*.test.ts',
  'test/core/console-to-logger.test.ts',
  'test/observability/idle-gc.test.ts',
  'test/store/postgres/leader.test.ts',
];

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
    // vitest's default is one worker per core minus one: ONE on a 2-core machine (CI's). So the two
    // projects run one after the other (groupOrder), each with the parallelism it can take: the
    // shared files two at a time, then the timing-bound own-process files one at a time, alone on
    // the machine as before (three at a time made the faults and leader-election suites flaky).
    projects: [
      {
        extends: true,
        test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: ownProcess, isolate: false, maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: { name: 'own-process', include: ownProcess, isolate: true, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
