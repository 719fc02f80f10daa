import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Router } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Logger } from '../../core/logger.js';
import { httpErrorHandler } from './errors.js';
import { fastRouteOf, type FastRoute } from './fast-route.js';
import { explainListenError } from './listen-errors.js';
import { AddressRateLimiter } from './rate-limit.js';

export interface HttpServerOptions {
  host: string;
  port: number;
  rateLimitPerMinute: number;
  logger: Logger;
  /** Mounted in order; each router brings its own body parser and size limit. */
  routers: Router[];
}

export interface RunningHttpServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/**
 * The bot's one HTTP server: health, the Webex webhook and the sightings
 * webhook. Every endpoint is rate limited per client address; unknown paths
 * get a JSON 404 with a sentence, never an HTML page.
 */
export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  // Answers here are never cached: an ETag per response is a hash of every body for nothing.
  app.set('etag', false);
  const limiter = new AddressRateLimiter(opts.rateLimitPerMinute, 60_000);
  app.use(
    rateLimit({
      windowMs: 60_000,
      limit: opts.rateLimitPerMinute,
      standardHeaders: 'draft-7',
      legacyHeaders: false,
      store: limiter,
      message: { error: 'rate_limited', message: 'Too many requests from this address; slow down and retry after the time in Retry-After.' },
    }),
  );
  for (const r of opts.routers) app.use(r);
  app.use((req, res) => {
    res.status(404).json({ error: 'not_found', message: `Nothing at ${req.method} ${req.path}; see the README for Sightline's endpoints.` });
  });
  app.use(httpErrorHandler(opts.logger));
  const server = createServer(fastFirst(app, fastRoutes(opts.routers), limiter));
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(explainListenError(err, opts.host, opts.port)));
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`;
  opts.logger.info({ url }, 'HTTP server listening');
  return {
    url,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // In-flight requests get a moment to finish; then the rest are cut so shutdown stays bounded.
        setTimeout(() => server.closeAllConnections(), 3000).unref();
      }),
  };
}

function fastRoutes(routers: Router[]): Map<string, FastRoute> {
  const routes = new Map<string, FastRoute>();
  for (const r of routers) {
    const fast = fastRouteOf(r);
    if (fast && !routes.has(fast.path)) routes.set(fast.path, fast);
  }
  return routes;
}

/**
 * The request listener: a request for exactly a fast route's path (the sightings webhook, the
 * hot path) is rate limited and answered here; everything else goes to express. Routers are
 * mounted in order: a fast route's path must be served by its router alone (no earlier router takes it).
 */
function fastFirst(app: (req: IncomingMessage, res: ServerResponse) => void, routes: Map<string, FastRoute>, limiter: AddressRateLimiter) {
  if (routes.size === 0) return app;
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const route = routes.get(q === -1 ? url : url.slice(0, q));
    if (!route) {
      app(req, res);
      return;
    }
    // express-rate-limit's key: the socket address (trust proxy is off), IPv6 grouped by /56.
    const ip = req.socket.remoteAddress ?? '';
    if (limiter.admit(ip.includes(':') ? ipKeyGenerator(ip) : ip, res)) route.handle(req, res);
  };
}
