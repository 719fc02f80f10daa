import { createHash, timingSafeEqual } from 'node:crypto';
import { Router } from 'express';
import { METRICS_CONTENT_TYPE, type Metrics } from '../../observability/metrics.js';

export const METRICS_PATH = '/metrics';

/**
 * `GET /metrics` in the Prometheus text format. Mounted only when METRICS_ENABLED=true
 * (otherwise the server's 404 answers). With METRICS_TOKEN set, the scraper must send
 * `Authorization: Bearer <token>`; the token is compared in constant time.
 */
export function createMetricsRouter(opts: { metrics: Metrics; token?: string }): Router {
  const router = Router();
  const expected = opts.token ? digest(opts.token) : undefined;
  router.get(METRICS_PATH, async (req, res) => {
    if (expected) {
      const given = /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '')?.[1];
      // Comparing digests keeps the comparison constant-time whatever the length sent.
      if (!given || !timingSafeEqual(digest(given.trim()), expected)) {
        res.setHeader('WWW-Authenticate', 'Bearer');
        res.status(401).json({ error: 'unauthorized', message: 'Send Authorization: Bearer <METRICS_TOKEN> to read the metrics.' });
        return;
      }
    }
    res.setHeader('Content-Type', METRICS_CONTENT_TYPE);
    res.send(await opts.metrics.scrape());
  });
  return router;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
