import { afterEach, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/core/logger.js';
import { freePort } from '../../src/sandbox/free-port.js';
import { startWorld, type EmulatedWorld } from '../../src/sandbox/world.js';

// The composition root wires the capabilities in src/app/; what an operator sees of that
// order is the log of the shutdown steps, which must stay the order the drain depends on.

let world: EmulatedWorld | undefined;
let app: App | undefined;
afterEach(async () => {
  await app?.stop(5000);
  await world?.stop();
  app = undefined;
  world = undefined;
});

describe('startApp', () => {
  it('registers the Webex webhooks, answers /healthz, and on stop closes the inputs first, then the hunt, the intake, the engine, the outbox, the journal and the state', async () => {
    world = await startWorld();
    const port = await freePort();
    const config = loadConfig(world.env({ HTTP_PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` }));
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) } });
    app = await startApp({ config, logger });

    expect(app.webex?.dispatcher).toBeDefined();
    expect(world.webex.webhooks().map((w) => `${w.resource} ${w.targetUrl}`).sort()).toEqual(
      ['attachmentActions', 'messages'].map((r) => `${r} http://127.0.0.1:${port}/webex/webhook`),
    );
    const res = await fetch(`${app.http.url}/healthz`);
    expect(res.status).toBe(200);

    await app.stop(8000);
    const stopped = lines.find((l) => l.msg === 'Sightline stopped');
    expect(Object.keys(stopped?.steps as object)).toEqual(['http', 'timers', 'webhooks', 'hunt', 'intake', 'correlation', 'outbox', 'journal', 'state']);
    expect(world.webex.webhooks()).toEqual([]);
  });
});
