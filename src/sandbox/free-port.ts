import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Below the kernel's ephemeral range there are about this many ports to draw from (at least 1,000). */
const LOWEST = 20_000;
const ATTEMPTS = 50;

/**
 * A port free on 127.0.0.1 right now (for a PUBLIC_URL that must be known before listening).
 *
 * Drawn at random from below the kernel's ephemeral range where it has one (Linux): a port from
 * `listen(0)` is itself ephemeral, and between the moment it is closed here and the moment the
 * process meant to use it listens (an instance can take seconds to start), any other test's
 * `listen(0)` or outgoing connection could be handed the same port — CI saw "HTTP_PORT … already
 * in use" that way. Elsewhere, or when nothing below the range is free, `listen(0)` as before.
 */
export async function freePort(): Promise<number> {
  const low = lowestEphemeralPort();
  if (low !== undefined && low - LOWEST >= 1000) {
    for (let i = 0; i < ATTEMPTS; i++) {
      const port = LOWEST + Math.floor(Math.random() * (low - LOWEST));
      if (await canListen(port)) return port;
    }
  }
  return listenAndClose(0);
}

function lowestEphemeralPort(): number | undefined {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return low > 0 ? low : undefined;
  } catch {
    return undefined;
  }
}

function canListen(port: number): Promise<boolean> {
  return listenAndClose(port).then(
    () => true,
    () => false,
  );
}

function listenAndClose(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      const bound = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(bound));
    });
  });
}
