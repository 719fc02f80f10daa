import { startApp } from './app.js';
import { loadConfig, secretsOf } from './config/load.js';
import { ConfigError, SightlineError } from './core/errors.js';
import { createLogger } from './core/logger.js';

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
  let app;
  try {
    app = await startApp({ config, logger });
  } catch (err) {
    if (err instanceof ConfigError) {
      // A setting found wrong only when used (a port in use, a host that does not resolve, a read-only
      // state folder) is reported and exits like the others.
      process.stderr.write(`${err.message}\n`);
      process.exit(78);
    }
    const sentence = err instanceof SightlineError ? err.userMessage : (err as Error).message;
    logger.fatal({ err }, `Sightline could not start: ${sentence}`);
    process.exit(1);
  }
  let signals = 0;
  const shutdown = (signal: string) => {
    if (++signals > 1) process.exit(130);
    logger.info({ signal }, 'shutting down: draining in-flight work');
    const hard = setTimeout(() => process.exit(1), 10_000);
    hard.unref();
    void app.stop(9000).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

const isEntry = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/').split('/').pop()!);
if (isEntry && process.argv[1]?.endsWith('main.ts')) await runMain();
