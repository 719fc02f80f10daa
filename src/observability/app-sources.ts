import type { CorrelationState } from '../domain/correlation/types.js';
import type { QueueStats } from '../notify/queues.js';
import type { State } from '../store/state.js';
import type { MetricsSources } from './metrics.js';

/**
 * The gauges' sources in a running app: plain reads of state the parts already keep
 * (the correlation state, the journal's sequence numbers, the outbox in the store).
 * Each runs only when /metrics is scraped; each is one pass over in-memory data.
 */
export function appMetricsSources(parts: {
  correlation: () => CorrelationState;
  journalLastSeq: () => number;
  state: () => Pick<State, 'outbox'>;
  channels: readonly string[];
  /** The outbox's per-queue figures (per Webex room, and e-mail). */
  outbox: () => QueueStats;
}): MetricsSources {
  return {
    journalBacklog: () => parts.journalLastSeq() - parts.correlation().lastAppliedSeq,
    incidentsOpen: () => Object.keys(parts.correlation().openByTarget).length,
    xdrChangesWaiting: () => {
      let n = 0;
      for (const inc of Object.values(parts.correlation().incidents)) n += inc.xdrSync.pending.length;
      return n;
    },
    outboxDepth: () => {
      const depth: Record<string, number> = Object.fromEntries(parts.channels.map((c) => [c, 0]));
      for (const item of parts.state().outbox) depth[item.channel] = (depth[item.channel] ?? 0) + 1;
      return depth;
    },
    outboxQueues: () =>
      parts.outbox().queues.map((q) => ({ channel: q.channel, queue: q.queue, stalledSeconds: q.stalledForMs / 1000, storm: q.storm === true })),
    outboxDeadLetters: () => parts.outbox().deadLetters,
  };
}
