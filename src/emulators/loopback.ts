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

/** An emulator that is one HTTP handler on a loopback port: start, stop and its base URL. */
export abstract class LoopbackEmulator {
  private server: Server | undefined;
  protected baseUrl = '';

  protected abstract handle(req: IncomingMessage, res: ServerResponse): void | Promise<void>;

  async start(): Promise<{ url: string }> {
    const { server, url } = await listenLoopback((req, res) => void this.handle(req, res));
    this.server = server;
    this.baseUrl = url;
    return { url };
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await closeServer(server);
  }

  get url(): string {
    return this.baseUrl;
  }
}
