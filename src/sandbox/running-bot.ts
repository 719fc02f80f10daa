import { startApp, type App } from '../app.js';
import { loadConfig } from '../config/load.js';
import { silentLogger } from '../core/logger.js';
import { freePort } from './free-port.js';
import { startWorld, type EmulatedWorld, type WorldOptions } from './world.js';

export interface RunningBot {
  world: EmulatedWorld;
  app: App;
  stop(): Promise<void>;
}

/** The whole bot, in-process, against every emulator, in Webex webhook mode (e2e tests, benchmarks). */
export async function startRunningBot(env: Record<string, string> = {}, worldOpts: WorldOptions = {}): Promise<RunningBot> {
  const world = await startWorld(worldOpts);
  const port = await freePort();
  const config = loadConfig(world.env({ HTTP_PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, ...env }));
  const app = await startApp({ config, logger: silentLogger });
  return {
    world,
    app,
    stop: async () => {
      await app.stop(5000);
      await world.stop();
    },
  };
}

export async function waitUntil<T>(probe: () => T | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
