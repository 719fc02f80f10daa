import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/sandbox/free-port.js';

const listen = (port: number) =>
  new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });

describe('freePort', () => {
  it('gives a port that can be listened on, and different ports to callers in a row', async () => {
    const ports = await Promise.all(Array.from({ length: 8 }, () => freePort()));
    expect(new Set(ports).size).toBeGreaterThan(1);
    const srv = await listen(ports[0]!);
    srv.close();
  });

  // A port from the kernel's ephemeral range can be handed to any other socket between the check and the listen.
  it.runIf(process.platform === 'linux')('on Linux, draws from below the ephemeral range', async () => {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    for (let i = 0; i < 20; i++) expect(await freePort()).toBeLessThan(low);
  });
});
