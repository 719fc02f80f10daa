import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Channel, Notification } from '../../src/notify/notification.js';
import { Outbox } from '../../src/notify/outbox.js';
import { LowdbStore } from '../../src/store/lowdb-store.js';

/** One queue per hunt week: a burst of notices fills many queues at once. */
class WeekChannel implements Channel {
  readonly name = 'chat';
  readonly delivered: string[] = [];
  accepts(): boolean {
    return true;
  }
  queueFor(n: Notification): string {
    return n.kind === 'not_published' ? n.week : 'other';
  }
  async deliver(n: Notification): Promise<void> {
    if (n.kind === 'not_published') this.delivered.push(n.week);
  }
}

const notice = (week: string): Notification => ({ kind: 'not_published', week, uri: `https://example/${week}`, attempts: 24 });

describe('Outbox under a burst of notifications', () => {
  it('delivers every notification of a burst queued in the same turn, in every queue', async () => {
    const store = await LowdbStore.open(join(await mkdtemp(join(tmpdir(), 'outbox-burst-')), 'state.json'));
    const channel = new WeekChannel();
    const outbox = new Outbox(store, [channel], new FakeClock('2026-11-20T08:00:00Z'), silentLogger);
    outbox.start();
    const weeks = Array.from({ length: 40 }, (_, i) => `2026-W${String(i + 1).padStart(2, '0')}`);
    // All share one state write, so they resume (and kick) in the same turn.
    await Promise.all(weeks.map((w) => outbox.notify(notice(w))));
    await outbox.drain();
    expect([...channel.delivered].sort()).toEqual(weeks);
    expect(outbox.pending()).toBe(0);
    await outbox.stop();
  });
});
