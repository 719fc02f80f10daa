import { realpathSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { getHeapStatistics } from 'node:v8';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startApp } from './app.js';
import { startSharedApp } from './app/shared/index.js';
import { loadConfig, secretsOf } from './config/load.js';
import { ConfigError, SightlineError } from './core/errors.js';
import { routeConsoleToLogger } from './core/console-to-logger.js';
import { heapBudget } from './core/heap-budget.js';
import { createLogger, type Logger } from './core/logger.js';

/**
 * Process entry: configuration, the app, and signal handling. SIGTERM/SIGINT
 * drain in-flight work and exit within 10 s; a second signal exits at once.
 */
export async function runMain(env?: Record<string, string | undefined>): Promise<void> {
  let config;
  try {
    config = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel, secrets: secretsOf(config) });
  // One log format on stdout: what the Webex framework and SDK print with console.* becomes pino lines too.
  routeConsoleToLogger(logger);
  // Before the state is loaded: if it cannot fit the heap cap, the last log lines before a crash say what to raise.
  await checkHeapBudget(config, logger);
  // Signal handlers come before any start-up work: a SIGTERM while Webex is still connecting
  // (bounded, but up to WEBEX_CONNECT_TIMEOUT_SECONDS) must drain, not kill mid-write.
  let starting: Promise<{ stop(timeoutMs?: number): Promise<void> } | undefined> | undefined;
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) process.exit(130);
    logger.info({ signal }, 'shutting down: draining in-flight work');
    const hard = setTimeout(() => process.exit(1), 10_000);
    hard.unref();
    void (async () => {
      const app = await starting;
      await app?.stop(9000);
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // DATABASE_URL: PostgreSQL, several instances may share it; otherwise the lowdb state file.
  starting = (config.database ? startSharedApp({ config, logger }) : startApp({ config, logger })).catch((err: unknown) => {
    if (err instanceof ConfigError) {
      // A setting found wrong only when used (a port in use, a host that does not resolve, a read-only
      // state folder) is reported and exits like the others.
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    const sentence = err instanceof SightlineError ? err.userMessage : (err as Error).message;
    logger.fatal({ err }, `Sightline could not start: ${sentence}`);
    process.exit(1);
  });
  await starting;
}

async function checkHeapBudget(config: ReturnType<typeof loadConfig>, logger: Logger): Promise<void> {
  // On PostgreSQL the state is not held in memory: only the control document, a few kB to a few MB.
  const stateBytes = config.database ? 0 : await stat(config.stateFile).then((s) => s.size, () => 0);
  const budget = heapBudget({ heapLimitBytes: getHeapStatistics().heap_size_limit, configuredMb: config.env.SIGHTLINE_MAX_HEAP_MB, stateBytes });
  const fields = { heapCapMb: budget.capMb, heapNeededMb: budget.neededMb, stateMb: Math.round(stateBytes / 1048576) };
  for (const w of budget.warnings) logger.warn(fields, w);
  if (budget.uncapped) logger.info(fields, budget.uncapped);
}

// Run when started as the entry (`node dist/main.js`, `tsx src/main.ts`), not when imported (`sightline start`).
const isEntry = process.argv[1] !== undefined && realpathOrSelf(process.argv[1]) === fileURLToPath(import.meta.url);
if (isEntry) await runMain();

/** Node resolves symlinks in the entry's URL; argv[1] is as typed. */
function realpathOrSelf(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}
