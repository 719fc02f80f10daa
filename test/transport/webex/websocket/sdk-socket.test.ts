import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../src/core/logger.js';
import { WebexEmulator } from '../../../../src/emulators/webex/index.js';
import { installSdkRejectionGuard } from '../../../../src/transport/webex/websocket/sdk-rejection-guard.js';
import { SdkSocketFactory } from '../../../../src/transport/webex/websocket/sdk-socket.js';

/** The real SDK connection (webex-websocket.md §5.1): close() is bounded and deletes the device, even when the socket never came up. */
let emu: WebexEmulator;
let removeGuard: () => void;
beforeAll(async () => {
  removeGuard = installSdkRejectionGuard(silentLogger);
  emu = new WebexEmulator();
  await emu.start();
});
afterAll(async () => {
  removeGuard();
  await emu.stop();
});

const factory = () => new SdkSocketFactory({ token: emu.botToken, apiBase: emu.apiBase, u2cBase: `${emu.url}/u2c/api/v1`, backoffMs: { reset: 100, max: 500 }, logger: silentLogger });
const noEvents = { activity: () => undefined, online: () => undefined, offline: () => undefined };

describe('SdkSocketFactory', () => {
  it('connects, and close() closes the socket and deletes the device', async () => {
    const conn = factory().open(noEvents);
    await conn.ready;
    expect(emu.websocket.stats()).toMatchObject({ openSockets: 1, devices: 1 });
    await conn.close(3000);
    await emu.websocket.until((s) => s.openSockets === 0 && s.devices === 0, 3000);
  });

  it('close() returns within its bound when the socket never finished opening, and still deletes the device', async () => {
    emu.websocket.mercury.stallAuthorization(true);
    const conn = factory().open(noEvents);
    await emu.websocket.until((s) => s.devices === 1, 10_000);
    // Resolves (else the test times out) although connect() never will.
    await conn.close(1500);
    expect(emu.websocket.stats().devices).toBe(0);
    emu.websocket.mercury.stallAuthorization(false);
  });
});
