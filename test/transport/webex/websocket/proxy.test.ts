import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useOutboundProxy } from '../../../../src/clients/proxy.js';
import { WebexHttpApi } from '../../../../src/clients/webex/api.js';
import { silentLogger } from '../../../../src/core/logger.js';
import { WebexEmulator } from '../../../../src/emulators/webex/index.js';
import { installSdkRejectionGuard } from '../../../../src/transport/webex/websocket/sdk-rejection-guard.js';
import { SdkSocketFactory } from '../../../../src/transport/webex/websocket/sdk-socket.js';

/** HTTPS_PROXY reaches both the websocket (a CONNECT tunnel) and Sightline's own REST calls. */
let emu: WebexEmulator;
let proxy: Server;
let proxyUrl: string;
const seen: string[] = [];
let removeGuard: () => void;

beforeAll(async () => {
  // As in the pump: the SDK may reject an ack for a frame that raced the close.
  removeGuard = installSdkRejectionGuard(silentLogger);
  emu = new WebexEmulator();
  await emu.start();
  proxy = createServer((req, res) => {
    // Plain HTTP through a proxy: the request line carries the absolute URL.
    seen.push(`${req.method} ${req.url}`);
    const upstream = httpRequest(req.url!, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    req.pipe(upstream);
  });
  proxy.on('connect', (req, socket, head) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host!, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterAll(async () => {
  removeGuard();
  await emu.stop();
  proxy.closeAllConnections();
  await new Promise((r) => proxy.close(r));
});

describe('HTTPS_PROXY', () => {
  it('carries the Webex websocket through a CONNECT tunnel', async () => {
    const factory = new SdkSocketFactory({ token: emu.botToken, apiBase: emu.apiBase, u2cBase: `${emu.url}/u2c/api/v1`, proxyUrl, backoffMs: { reset: 100, max: 1000 }, logger: silentLogger });
    const conn = factory.open({ activity: () => undefined, online: () => undefined, offline: () => undefined });
    await conn.ready;
    await conn.close(2000);
    expect(seen).toContain(`CONNECT ${new URL(emu.url).host}`);
  });

  it('carries Sightline\'s own REST calls', async () => {
    useOutboundProxy(proxyUrl);
    const before = seen.length;
    const api = new WebexHttpApi({ baseUrl: emu.apiBase, token: emu.botToken, logger: silentLogger });
    await api.me();
    // undici tunnels through CONNECT (or forwards the absolute URL); either way the proxy saw it.
    const host = new URL(emu.url).host;
    expect(seen.slice(before).some((s) => s === `CONNECT ${host}` || s === `GET ${emu.apiBase}/people/me`)).toBe(true);
  });
});
