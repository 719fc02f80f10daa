import type pg from 'pg';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { PostgresOutboxStore } from '../store/postgres/outbox.js';
import type { Channel } from './notification.js';
import { retryDelayMs } from './outbox.js';
import { PostgresDelivery } from './postgres-delivery.js';
import { PostgresNotifier } from './postgres-notifier.js';

export interface PostgresNotificationsOptions {
  pool: pg.Pool;
  /** DATABASE_URL (the delivery's LISTEN session). */
  url: string;
  channels: Channel[];
  logger: Logger;
  clock?: Clock;
  /** Queues this instance sends to at once; each holds a pool connection while it sends. Default: a third of the pool, 1 to 4. */
  concurrency?: number;
  pollMs?: number;
  snapshotMs?: number;
  applicationName?: string;
}

/**
 * One instance's notifications on PostgreSQL, wired: the outbox store with the lowdb outbox's
 * backoff, the notifier (wakes this instance's delivery after it queues) and the delivery (renews
 * the notifier's snapshot). Start `delivery` with the app, stop it before the pool ends.
 */
export function postgresNotifications(opts: PostgresNotificationsOptions): { store: PostgresOutboxStore; notifier: PostgresNotifier; delivery: PostgresDelivery } {
  const store = new PostgresOutboxStore(opts.pool, {
    retryDelayMs,
    onProgressLost: (err) => opts.logger.warn({ err }, 'outbox: delivery progress not written; a crash before this notification is out would post its first messages again'),
  });
  let delivery: PostgresDelivery | undefined;
  const notifier = new PostgresNotifier({
    pool: opts.pool,
    store,
    channels: opts.channels,
    logger: opts.logger,
    ...(opts.clock ? { clock: opts.clock } : {}),
    onQueued: () => delivery?.wake(),
  });
  delivery = new PostgresDelivery({
    pool: opts.pool,
    url: opts.url,
    store,
    channels: opts.channels,
    logger: opts.logger,
    notifier,
    concurrency: opts.concurrency ?? defaultConcurrency(opts.pool),
    ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
    ...(opts.snapshotMs !== undefined ? { snapshotMs: opts.snapshotMs } : {}),
    ...(opts.applicationName !== undefined ? { applicationName: opts.applicationName } : {}),
  });
  return { store, notifier, delivery };
}

/** Senders hold a connection for a whole send: leave most of the pool to the intake, correlation and chat. */
export function defaultConcurrency(pool: pg.Pool): number {
  const max = (pool as pg.Pool & { options?: { max?: number } }).options?.max ?? 10;
  return Math.min(4, Math.max(1, Math.floor(max / 3)));
}
