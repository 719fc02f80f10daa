import type pg from 'pg';
import type { Logger } from '../../core/logger.js';
import type { MetricsSources } from '../../observability/metrics.js';
import type { NotificationQueue } from '../parts.js';

/** How often the gauges' counts are read from PostgreSQL (a scrape reads the last figures). */
const REFRESH_MS = 5_000;

/**
 * /metrics gauges in PostgreSQL mode. The sources are synchronous (a scrape reads them), the
 * figures live in the database: a few counts every 5 s, kept for the scrapes in between.
 */
export function postgresMetricsSources(pool: pg.Pool, outbox: NotificationQueue, channels: readonly string[], logger: Logger): MetricsSources & { stop(): void } {
  let figures = { backlog: 0, open: 0, xdr: 0, depth: {} as Record<string, number> };
  let failing = false;
  const refresh = async (): Promise<void> => {
    try {
      const [backlog, open, xdr, depth] = await Promise.all([
        pool.query<{ n: string }>('SELECT count(*) AS n FROM sightings WHERE applied_at IS NULL'),
        pool.query<{ n: string }>('SELECT count(*) AS n FROM incidents WHERE closed_at IS NULL'),
        pool.query<{ n: string }>('SELECT count(*) AS n FROM xdr_ops'),
        pool.query<{ channel: string; n: string }>('SELECT channel, count(*) AS n FROM outbox GROUP BY channel'),
      ]);
      figures = {
        backlog: Number(backlog.rows[0]?.n ?? 0),
        open: Number(open.rows[0]?.n ?? 0),
        xdr: Number(xdr.rows[0]?.n ?? 0),
        depth: Object.fromEntries([...channels.map((c) => [c, 0] as const), ...depth.rows.map((r) => [r.channel, Number(r.n)] as const)]),
      };
      failing = false;
    } catch (err) {
      if (!failing) logger.warn({ err: (err as Error).message }, 'the metrics could not be read from PostgreSQL; /metrics shows the last figures');
      failing = true;
    }
  };
  void refresh();
  const timer = setInterval(() => void refresh(), REFRESH_MS);
  timer.unref();
  return {
    journalBacklog: () => figures.backlog,
    incidentsOpen: () => figures.open,
    xdrChangesWaiting: () => figures.xdr,
    outboxDepth: () => figures.depth,
    outboxQueues: () => outbox.queueStats().queues.map((q) => ({ channel: q.channel, queue: q.queue, stalledSeconds: q.stalledForMs / 1000, storm: q.storm === true })),
    outboxDeadLetters: () => outbox.queueStats().deadLetters,
    stop: () => clearInterval(timer),
  };
}
