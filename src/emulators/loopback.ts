import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Emulators listen on loopback only, on a free port unless told otherwise, and
 * close hard (open keep-alive connections included) so tests never hang.
 */
export async function listenLoopback(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  opts: { host?: string; port?: number } = {},
): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  return { server, url: `http://${host}:${(server.address() as AddressInfo).port}` };
}

export async function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
