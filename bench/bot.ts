import { startApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config/load.js';
import { silentLogger } from '../src/core/logger.js';
import { freePort } from '../src/sandbox/free-port.js';
import { startWorld, type EmulatedWorld, type WorldOptions } from '../src/sandbox/world.js';

/** The whole bot in this process against every emulator, Webex in webhook mode (the e2e test's wiring). */
export interface BenchBot {
  world: EmulatedWorld;
  app: App;
  stop(): Promise<void>;
}

export async function startBenchBot(env: Record<string, string> = {}, worldOpts: WorldOptions = {}): Promise<BenchBot> {
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

/** The roundup's URL on the Talos emulator (GitHub layout), for `hunt blog <url>` / HuntRunner.runUri. */
export function roundupUrl(world: EmulatedWorld, file: string): string {
  return `${world.talos.url}/Cisco-Talos/Threat-Round-Up/master/${file}`;
}
