import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../../src/app.js';
import { loadConfig } from '../../../src/config/load.js';
import { silentLogger } from '../../../src/core/logger.js';
import { freePort } from '../../../src/sandbox/free-port.js';
import { startWorld, type EmulatedWorld } from '../../../src/sandbox/world.js';
import { ask, readyz, textOf, WEBSOCKET_ENV } from './support.js';

/**
 * Start-up and shutdown in websocket mode (webex-websocket.md §5.1, §5.2): an unreachable
 * socket does not hold the bot up and is retried; SIGTERM drains and deletes the device,
 * also while the socket is still connecting.
 */
describe('websocket mode: unreachable socket at start', () => {
  let world: EmulatedWorld;
  let app: App;
  beforeAll(async () => {
    world = await startWorld();
    world.webex.websocket.mercury.refuseSockets(true);
    const port = await freePort();
    app = await startApp({ config: loadConfig(world.env({ ...WEBSOCKET_ENV, WEBEX_CONNECT_TIMEOUT_SECONDS: '2', HTTP_PORT: String(port) })), logger: silentLogger });
  });
  afterAll(async () => {
    await app?.stop(5000);
    await world?.stop();
  });

  it('the rest of the bot runs; /readyz names the websocket; once the socket is reachable commands are answered', async () => {
    const r = await readyz(app.http.url);
    expect(r.status).toBe(503);
    expect(r.body.checks['webexWebsocket']?.ok).toBe(false);
    expect(r.body.checks['schedule']?.ok).toBe(true);
    expect(app.schedule.armed).toBe(true);
    const ws = world.webex.websocket;
    await ws.until((s) => s.refusedUpgrades >= 2, 20_000);
    world.webex.websocket.mercury.refuseSockets(false);
    await ws.until((s) => s.openSockets === 1, 20_000);
    // Every failed attempt deleted its device.
    expect(ws.stats().devices).toBe(1);
    const roomId = world.webex.createRoomAsPerson('Late', ['alice@example.com']).id;
    expect(textOf(await ask(world.webex, roomId, 'help'))).toContain('hunt now');
    expect((await readyz(app.http.url)).status).toBe(200);
  }, 60_000);
});

describe('websocket mode: SIGTERM', () => {
  let world: EmulatedWorld;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => {
    await world?.stop();
  });

  /** Runs `src/main.ts` against the world; resolves once `line` is logged. */
  function runMain(env: Record<string, string>, line: RegExp) {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../../../src/main.ts', import.meta.url))], {
      env: { ...process.env, ...env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const seen = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (line.test(out)) resolve();
      });
      void exited.then(() => reject(new Error(`exited before ${line}: ${out}`)));
    });
    return { child, exited, seen, output: () => out };
  }

  it('connected: drains, closes the socket and deletes the device, exit 0', async () => {
    const port = await freePort();
    const p = runMain(world.env({ ...WEBSOCKET_ENV, HTTP_PORT: String(port) }), /Webex websocket connected/);
    await p.seen;
    expect(world.webex.websocket.stats()).toMatchObject({ devices: 1, openSockets: 1 });
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(p.output()).toMatch(/Sightline stopped/);
    await world.webex.websocket.until((s) => s.openSockets === 0 && s.devices === 0, 5_000);
  }, 60_000);

  it('still connecting: SIGTERM drains too, and nothing is left registered', async () => {
    world.webex.websocket.mercury.refuseSockets(true);
    const port = await freePort();
    const p = runMain(world.env({ ...WEBSOCKET_ENV, WEBEX_CONNECT_TIMEOUT_SECONDS: '60', HTTP_PORT: String(port) }), /Sightline is ready/);
    await p.seen;
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    world.webex.websocket.mercury.refuseSockets(false);
    expect(world.webex.websocket.stats()).toMatchObject({ devices: 0, openSockets: 0 });
  }, 60_000);
});
