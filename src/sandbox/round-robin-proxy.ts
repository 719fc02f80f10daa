import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * One URL in front of several Sightline instances, as a load balancer puts them: each request
 * goes to the next instance in turn; an instance that refuses the connection (stopped,
 * restarting) is skipped for the next one, so a sender sees one address that keeps answering.
 * Bodies are buffered (bounded) so a refused request can be sent to the next instance whole.
 * For the sandbox and the crash suite only: no TLS, no keep-alive tuning, loopback.
 */
export interface RoundRobinProxy {
  url: string;
  /** How many requests each backend answered (by backend URL). */
  served: Map<string, number>;
  stop(): Promise<void>;
}

const MAX_BODY = 5 * 1024 * 1024;

/** What became of one request: the backend that answered (or the last one tried) and its status, or the error that ended it. */
export type ProxyOutcome = (body: Buffer, backend: string, outcome: number | string) => void;

export async function startRoundRobinProxy(backends: readonly string[], opts: { port?: number; onOutcome?: ProxyOutcome } = {}): Promise<RoundRobinProxy> {
  if (backends.length === 0) throw new Error('The proxy needs at least one backend URL.');
  const served = new Map(backends.map((b) => [b, 0]));
  let next = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        res.writeHead(413, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Body too large for the sandbox proxy.' }));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      const start = next++ % backends.length;
      void forward(req, res, Buffer.concat(chunks), backends, start, 0, served, opts.onOutcome);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function forward(req: IncomingMessage, res: ServerResponse, body: Buffer, backends: readonly string[], start: number, tried: number, served: Map<string, number>, onOutcome?: ProxyOutcome): Promise<void> {
  const backend = backends[(start + tried) % backends.length]!;
  const target = new URL(req.url ?? '/', backend);
  return new Promise<void>((resolve) => {
    const headers = { ...req.headers, host: target.host, 'content-length': String(body.length) };
    delete headers['transfer-encoding'];
    delete headers.connection;
    // A connection per request, as a load balancer's default upstream: a kept-alive one the instance closes
    // as idle (or a killed instance left) while a request goes out on it ends in ECONNRESET, which cannot
    // be resent safely, and that would be the proxy's loss, not the instance's.
    const up = httpRequest(target, { method: req.method, headers, agent: false }, (upRes) => {
      served.set(backend, (served.get(backend) ?? 0) + 1);
      onOutcome?.(body, backend, upRes.statusCode ?? 502);
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
      upRes.on('end', () => resolve());
      upRes.on('error', () => {
        res.destroy();
        resolve();
      });
    });
    up.on('error', (err: NodeJS.ErrnoException) => {
      // Refused: nothing reached that instance, so the next one may take it. Anything else
      // (reset mid-request) may have been received: the sender decides whether to resend.
      if (err.code === 'ECONNREFUSED' && tried + 1 < backends.length) resolve(forward(req, res, body, backends, start, tried + 1, served, onOutcome));
      else {
        onOutcome?.(body, backend, err.code ?? err.message);
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ message: `No Sightline instance answered (${err.code ?? err.message}).` }));
        else res.destroy();
        resolve();
      }
    });
    up.end(body);
  });
}
