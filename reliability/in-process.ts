import { appendFileSync } from 'node:fs';
import { startApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import { createLogger, silentLogger, type Logger } from '../src/core/logger.js';
import { freePort } from '../src/sandbox/free-port.js';
import { startWorld, type EmulatedWorld, type WorldOptions } from '../src/sandbox/world.js';
import { SUITE_XDR_ALLOWANCE } from './support.js';

/**
 * The whole bot in this process against every emulator (the pattern of
 * test/support/running-bot.ts), for suites that call parts directly
 * (`app.webex.dispatcher`, `app.store`) or need many fast requests.
 */
export interface InProcessBot {
  world: EmulatedWorld;
  app: App;
  stop(): Promise<void>;
}

/** Settings every in-process suite wants: no rate limit in the way unless a suite asks for one. */
export const FAST_ENV: Record<string, string> = {
  ...SUITE_XDR_ALLOWANCE,
  HTTP_RATE_LIMIT_PER_MINUTE: '1000000',
  WEBEX_MAX_MESSAGES_PER_MINUTE: '6000',
  CORRELATION_COALESCE_MS: '0',
  XDR_STATUS_SYNC_SECONDS: '0',
};

function trace(s: string): void {
  if (process.env.RELIABILITY_TRACE) appendFileSync(process.env.RELIABILITY_TRACE, `${new Date().toISOString()} ${s}\n`);
}

export async function startInProcess(env: Record<string, string> = {}, worldOpts: WorldOptions = {}, logger: Logger = silentLogger): Promise<InProcessBot> {
  const world = await startWorld(worldOpts);
  const port = await freePort();
  const config = loadConfig(world.env({ HTTP_PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, ...FAST_ENV, ...env }));
  const app = await startApp({ config, logger });
  return {
    world,
    app,
    stop: async () => {
      trace('app.stop');
      await app.stop(5000);
      trace('world.stop');
      await world.stop();
      trace('stopped');
    },
  };
}

/** A pino logger writing JSON lines into `lines` (to grep a run's logs for secrets). */
export function capturingLogger(lines: string[], level = 'debug'): Logger {
  return createLogger({ level, destination: { write: (s: string) => void lines.push(s) } });
}
