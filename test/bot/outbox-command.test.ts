import { describe, expect, it } from 'vitest';
import type { OutboxView } from '../../src/bot/commands/outbox-view.js';
import type { QueueStats } from '../../src/notify/queues.js';
import type { DeadLetter } from '../../src/store/state.js';
import { ANALYST, ask, harness } from './fakes.js';

function view(stats: Partial<QueueStats> = {}, dead: DeadLetter[] = []): OutboxView {
  return { queueStats: () => ({ queues: [], deadLetters: dead.length, ...stats }), deadLetters: () => dead };
}

const refused: DeadLetter = {
  id: 'item-1', channel: 'webex', key: 'Sightline Incidents', kind: 'incident_updated', subject: 'host-7',
  reason: 'Webex refused the message for "Sightline Incidents" with 413: Webex answered 413: too large',
  createdAt: '2026-11-20T08:00:00Z', failedAt: '2026-11-20T08:01:00Z', attempts: 1, payload: {},
};

describe('outbox command', () => {
  it('lists each waiting queue and the notifications refused for good, with the reason', async () => {
    const h = harness({}, {
      outbox: view({ queues: [{ channel: 'webex', queue: 'Sightline Incidents', depth: 12, oldestAgeMs: 20 * 60_000, stalledForMs: 17 * 60_000, headKind: 'incident_opened', headAttempts: 6, headError: 'Webex answered 503' }] }, [refused]),
    });
    const reply = await ask(h, 'outbox');
    expect(reply).toContain('- webex **Sightline Incidents**: 12 waiting, oldest 20 min, not moved for 17 min, 6 tries; last error: Webex answered 503');
    expect(reply).toContain('**Not delivered (refused for good)**: 1');
    expect(reply).toContain('2026-11-20 08:01 UTC webex **Sightline Incidents** `incident_updated` `host-7`: Webex refused the message');
  });

  it('is for admins only', async () => {
    const h = harness({}, { outbox: view({}, [refused]) });
    const reply = await ask(h, 'outbox', { personEmail: ANALYST });
    expect(reply).toMatch(/Only Sightline admins can see the notification queues/);
    expect(reply).not.toContain('host-7');
  });

  it('hunt status says how many notifications wait or were refused, and nothing when all is well', async () => {
    const troubled = await ask(harness({}, { outbox: view({}, [refused]) }), 'hunt status', { personEmail: ANALYST });
    expect(troubled).toContain('**Notifications**: 0 waiting, 1 not delivered (refused for good); `outbox` lists them (admins).');
    const fine = await ask(harness({}, { outbox: view() }), 'hunt status');
    expect(fine).not.toContain('Notifications');
  });
});
