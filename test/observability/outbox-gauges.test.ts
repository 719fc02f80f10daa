import { describe, expect, it } from 'vitest';
import type { QueueStats } from '../../src/notify/queues.js';
import { appMetricsSources } from '../../src/observability/app-sources.js';
import { Metrics } from '../../src/observability/metrics.js';

const emptyCorrelation = () => ({ lastAppliedSeq: 0, incidents: {}, openByTarget: {} }) as never;

async function scrape(stats: QueueStats): Promise<string> {
  const metrics = new Metrics({ defaultMetrics: false });
  metrics.watch(appMetricsSources({ correlation: emptyCorrelation, journalLastSeq: () => 0, state: () => ({ outbox: [] }), channels: ['webex'], outbox: () => stats }));
  return metrics.registry.metrics();
}

describe('outbox gauges', () => {
  it('show how long each queue has not moved, storm queues and dead letters', async () => {
    const page = await scrape({
      queues: [
        { channel: 'webex', queue: 'room-a', depth: 3, oldestAgeMs: 5000, stalledForMs: 1_200_000, headKind: 'incident_opened', headAttempts: 7, storm: true },
        { channel: 'email', queue: 'email', depth: 1, oldestAgeMs: 10, stalledForMs: 2500, headKind: 'hunt_finished', headAttempts: 0 },
      ],
      deadLetters: 4,
    } as QueueStats);
    expect(page).toContain('sightline_outbox_queue_stalled_seconds{channel="webex",queue="room-a"} 1200');
    expect(page).toContain('sightline_outbox_queue_stalled_seconds{channel="email",queue="email"} 2.5');
    expect(page).toContain('sightline_outbox_storm_queues 1');
    expect(page).toContain('sightline_outbox_dead_letters 4');
  });

  it('drop a queue that emptied since the last scrape', async () => {
    const page = await scrape({ queues: [], deadLetters: 0 } as QueueStats);
    expect(page).not.toContain('sightline_outbox_queue_stalled_seconds{');
    expect(page).toContain('sightline_outbox_storm_queues 0');
  });
});
