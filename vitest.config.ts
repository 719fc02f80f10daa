import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Real HTTP emulators on loopback: keep files in separate forks so ports and globals never collide.
    pool: 'forks',
    // PostgreSQL tests share one throwaway cluster per run, started lazily (test/support/postgres.ts).
    globalSetup: ['test/support/postgres-global.ts'],
    env: {
      // The Webex SDK reads these when it is first loaded; set them before any test imports it.
      HYDRA_SERVICE_URL: 'http://127.0.0.1:9/v1',
      U2C_SERVICE_URL: 'http://127.0.0.1:9/u2c/api/v1',
      LOG_LEVEL: 'silent',
    },
  },
});
