import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WebexApi } from '../../../../src/clients/webex/port.js';
import { WebsocketPump } from '../../../../src/transport/webex/websocket/pump.js';
import { ActivityReader } from '../../../../src/transport/webex/websocket/reader.js';
import { capturingLogger, Events, FakeFactory } from './fakes.js';

/**
 * The pump's connection life cycle against a fake SDK socket, on fake timers. Each case is
 * one of the defects in webex-websocket.md §5 that the framework pump had.
 */
const BOT = { id: Buffer.from('ciscospark://us/PEOPLE/bot-uuid').toString('base64url'), displayName: 'Sightline' };
const api = {} as WebexApi;

let factory: FakeFactory;
let log: ReturnType<typeof capturingLogger>;
let pump: WebsocketPump;

beforeEach(() => {
  vi.useFakeTimers();
  factory = new FakeFactory();
  log = capturingLogger();
  pump = new WebsocketPump({
    factory,
    reader: new ActivityReader({ api, bot: BOT, logger: log.logger }),
    handler: new Events(),
    logger: log.logger,
    connectTimeoutMs: 5_000,
    backoff: { initialMs: 1_000, maxMs: 8_000 },
  });
});
afterEach(async () => {
  await pump.stop();
  vi.useRealTimers();
});

const warnings = () => log.lines.filter((l) => l.level === 40).map((l) => l.msg);
const infos = () => log.lines.filter((l) => l.level === 30).map((l) => l.msg);

describe('WebsocketPump', () => {
  it('is ready once the socket is connected', async () => {
    await pump.start();
    expect(pump.status).toBe('online');
    expect(pump.readiness()).toEqual({ ok: true });
  });

  it('start() is bounded: past the connect timeout it logs why once, reports not ready and retries with backoff', async () => {
    factory.autoConnect = false;
    const started = pump.start();
    await vi.advanceTimersByTimeAsync(5_000);
    await started;
    expect(pump.status).toBe('down');
    expect(pump.readiness().ok).toBe(false);
    expect(pump.readiness().detail).toMatch(/Webex websocket is not connected/);
    expect(factory.opened[0]!.closed).toBe(true);
    // Three more failed attempts: 1 s, 2 s, 4 s apart, each timing out after 5 s.
    for (const wait of [1_000, 2_000, 4_000]) await vi.advanceTimersByTimeAsync(wait + 5_000);
    expect(factory.opened).toHaveLength(4);
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]).toMatch(/could not connect \(no connection within 5 s\)/);
    factory.autoConnect = true;
    await vi.advanceTimersByTimeAsync(8_000);
    expect(factory.opened).toHaveLength(5);
    expect(pump.status).toBe('online');
    expect(infos().filter((m) => /back after/.test(m))).toHaveLength(1);
  });

  it.each([
    [1012, 'service restart', 'permanent'],
    [4000, 'replaced', 'replaced'],
    [1000, 'server shutdown', 'permanent'],
  ] as const)('reconnects itself with a fresh connection after a close the SDK treats as final (%i %s)', async (code, reason, kind) => {
    await pump.start();
    const first = factory.last;
    first.offline(kind, code, reason);
    expect(pump.status).toBe('down');
    expect(pump.readiness().detail).toContain(`closed by Webex with ${code}`);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(first.closed).toBe(true);
    expect(factory.opened).toHaveLength(2);
    expect(pump.status).toBe('online');
    expect(warnings()).toHaveLength(1);
    expect(infos().filter((m) => /back after/.test(m))).toHaveLength(1);
  });

  it('leaves a transient close (1001) to the SDK, and takes over when the SDK has not recovered within the connect timeout', async () => {
    await pump.start();
    factory.last.offline('transient', 1001, 'going away');
    factory.last.events.online();
    expect(pump.status).toBe('online');
    expect(factory.opened).toHaveLength(1);
    factory.last.offline('transient', 1006);
    await vi.advanceTimersByTimeAsync(5_000 + 1_000);
    expect(factory.opened).toHaveLength(2);
    expect(pump.status).toBe('online');
  });

  it('stop() closes the socket (deleting the device) and nothing reconnects afterwards', async () => {
    await pump.start();
    const conn = factory.last;
    await pump.stop();
    expect(conn.closed).toBe(true);
    conn.offline('permanent', 1000, 'done');
    await vi.advanceTimersByTimeAsync(120_000);
    expect(factory.opened).toHaveLength(1);
    expect(pump.status).toBe('stopped');
  });

  it('stop() during a pending retry cancels it', async () => {
    factory.autoConnect = false;
    const started = pump.start();
    await vi.advanceTimersByTimeAsync(5_000);
    await started;
    await pump.stop();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(factory.opened).toHaveLength(1);
  });

  it('a start() that fails leaves the pump stopped, and a later start() really starts', async () => {
    factory.throwOnOpen = new Error('the SDK could not be loaded');
    await expect(pump.start()).rejects.toThrow('could not be loaded');
    expect(pump.status).toBe('stopped');
    factory.throwOnOpen = undefined;
    await pump.start();
    expect(pump.status).toBe('online');
    expect(factory.opened).toHaveLength(1);
  });

  it('removes its rejection guard on stop', async () => {
    const before = process.listenerCount('unhandledRejection');
    await pump.start();
    expect(process.listenerCount('unhandledRejection')).toBe(before + 1);
    await pump.stop();
    expect(process.listenerCount('unhandledRejection')).toBe(before);
  });
});
