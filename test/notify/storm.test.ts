import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { renderForWebex } from '../../src/notify/cards/index.js';
import { renderEmail } from '../../src/notify/email/render.js';
import type { Channel, IncidentDigest, IncidentView, Notification } from '../../src/notify/notification.js';
import { Outbox } from '../../src/notify/outbox.js';
import { buildDigest, stormPolicyFor, stormStep, type StormPolicy } from '../../src/notify/storm.js';
import { emptyState, type State } from '../../src/store/state.js';
import type { Store } from '../../src/store/store.js';

class MemoryStore implements Store {
  writable = true;
  private state: State = emptyState();
  get(): Readonly<State> {
    return this.state;
  }
  async update<T>(mutate: (state: State) => T): Promise<T> {
    return mutate(this.state);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

class RecordingChannel implements Channel {
  readonly name = 'webex';
  readonly delivered: Notification[] = [];
  /** While set, deliveries wait: the room is slower than the news (as at 60 messages a minute). */
  gate: Promise<void> | undefined;
  accepts(): boolean {
    return true;
  }
  queueFor(n: Notification): string {
    return n.kind === 'not_published' ? 'hunt' : 'incidents';
  }
  async deliver(n: Notification): Promise<void> {
    await this.gate;
    this.delivered.push(n);
  }
}

const view = (target: string, count = 1, firstSeen = '2026-11-20T08:00:00Z'): IncidentView => ({
  id: `incident-${target}`, targetKey: `hostname:${target}`, targetType: 'hostname', targetValue: target, count, status: 'New',
  firstSeen, lastSeen: firstSeen, rungsFired: [],
});

const policy: StormPolicy = { enterDepth: 10, exitDepth: 2, digestMs: 60_000, topN: 3 };

describe('storm switching rules', () => {
  it('starts when more waits than the room shows in the threshold, at its chat rate', () => {
    expect(stormPolicyFor({ messagesPerMinute: 60, thresholdMinutes: 3, digestSeconds: 60 })).toMatchObject({ enterDepth: 180, exitDepth: 15, digestMs: 60_000, topN: 25 });
    expect(stormStep({ active: false }, 9, 0, policy)).toEqual({ do: 'normal' });
    expect(stormStep({ active: false }, 10, 0, policy)).toEqual({ do: 'digest', phase: 'started' });
  });

  it('posts at most one digest per interval, and ends at a digest time when little is left', () => {
    const state = { active: true, startedAt: 0, lastDigestAt: 0 };
    expect(stormStep(state, 500, 59_999, policy)).toEqual({ do: 'wait', untilMs: 60_000 });
    expect(stormStep(state, 500, 60_000, policy)).toEqual({ do: 'digest', phase: 'digest' });
    expect(stormStep(state, 2, 60_000, policy)).toEqual({ do: 'end' });
    expect(stormStep({ ...state, retryAt: 70_000 }, 500, 65_000, policy)).toEqual({ do: 'wait', untilMs: 70_000 });
  });

  it('a digest lists the highest count first, then the newest, and counts the rest; rungs merge into one mention', () => {
    const news: Notification[] = [
      { kind: 'incident_opened', incident: view('old', 1, '2026-11-20T08:00:00Z') },
      { kind: 'incident_opened', incident: view('newer', 1, '2026-11-20T08:00:30Z') },
      { kind: 'incident_opened', incident: view('busy', 1, '2026-11-20T08:00:10Z') },
      { kind: 'incident_updated', incident: view('busy', 40, '2026-11-20T08:00:10Z'), newSightings: 39, crossed: ['gte 3'] },
      { kind: 'incident_opened', incident: view('x', 1, '2026-11-20T07:00:00Z') },
      { kind: 'incident_updated', incident: view('y', 7, '2026-11-19T07:00:00Z'), newSightings: 2, crossed: [] },
      { kind: 'rung_fired', incident: view('busy', 3), rung: 'gte 3', action: 'mention', mention: ['oncall@example.com'], dryRun: false },
      { kind: 'rung_fired', incident: view('y', 7), rung: 'gte 3', action: 'mention', mention: ['oncall@example.com'], dryRun: false },
    ];
    const d = buildDigest(news, 'started', 3);
    expect(d.top.map((i) => [i.targetValue, i.count])).toEqual([['busy', 40], ['y', 7], ['newer', 1]]);
    expect(d).toMatchObject({ more: 2, newIncidents: 4, updatedIncidents: 1, mention: ['oncall@example.com'], escalations: [{ rung: 'gte 3', action: 'mention', incidents: 2 }] });
    const [card, mention] = renderForWebex(d);
    expect(card!.markdown).toContain('and 2 more: `incidents` lists them');
    const actions = JSON.stringify(card!.card);
    expect(actions).toContain('"action":"close_incident","incidentId":"incident-busy"');
    expect(actions).toContain('"action":"show_sightings","incidentId":"incident-newer"');
    expect(mention!.markdown.match(/<@personEmail:oncall@example.com>/g)).toHaveLength(1);
    expect(mention!.markdown).toContain('**gte 3** → mention: 2 incidents');
    expect(renderEmail(d)!.subject).toBe('Alert storm: 5 incidents (4 new, 1 updated)');
  });

  it('writes "1,932 more" the way people read it', () => {
    const d: IncidentDigest = { ...buildDigest([{ kind: 'incident_opened', incident: view('a') }], 'digest', 25), more: 1932 };
    expect(renderForWebex(d)[0]!.markdown).toContain('and 1,932 more: `incidents` lists them');
  });
});

describe('Outbox in a storm (fake clock)', () => {
  async function setup() {
    const clock = new FakeClock('2026-11-20T08:00:00Z');
    const channel = new RecordingChannel();
    const outbox = new Outbox(new MemoryStore(), [channel], clock, silentLogger, undefined, policy);
    outbox.start();
    return { clock, channel, outbox };
  }
  /** Queues `n` new incidents while the room is still taking the first card, as in a storm. */
  async function queueFasterThanTheRoom(channel: RecordingChannel, outbox: Outbox, n: number): Promise<void> {
    let release!: () => void;
    channel.gate = new Promise((r) => (release = r));
    for (let i = 0; i < n; i++) await outbox.notify({ kind: 'incident_opened', incident: view(`host-${i}`) });
    channel.gate = undefined;
    release();
    await outbox.drain();
  }
  const kinds = (c: RecordingChannel) => c.delivered.map((n) => (n.kind === 'incident_digest' ? `digest:${n.phase}:${n.top.length + n.more}` : n.kind));

  it('switches a room to digests, one per interval, says when the storm ends, then posts cards again', async () => {
    const { clock, channel, outbox } = await setup();
    await queueFasterThanTheRoom(channel, outbox, 30);
    // The first card was already on its way; the storm took the 29 behind it in one digest.
    const before = channel.delivered.length;
    expect(kinds(channel)).toEqual(['incident_opened', 'digest:started:29']);
    expect(outbox.inStorm('webex', 'incidents')).toBe(true);

    // More news during the interval waits; hunt news does not.
    for (let i = 30; i < 50; i++) await outbox.notify({ kind: 'incident_opened', incident: view(`host-${i}`) });
    await outbox.notify({ kind: 'not_published', week: '2026-11-20', uri: 'u', attempts: 24 });
    clock.advance(30_000);
    outbox.kick();
    await outbox.drain();
    expect(kinds(channel).slice(before)).toEqual(['not_published']);

    clock.advance(30_000);
    outbox.kick();
    await outbox.drain();
    expect(kinds(channel).at(-1)).toBe('digest:digest:20');

    // Nothing more: at the next digest time the storm ends, and a new incident gets its card again.
    clock.advance(60_000);
    outbox.kick();
    await outbox.drain();
    expect(kinds(channel).at(-1)).toBe('digest:ended:0');
    expect(outbox.inStorm('webex', 'incidents')).toBe(false);
    await outbox.notify({ kind: 'incident_opened', incident: view('calm') });
    await outbox.drain();
    expect(kinds(channel).at(-1)).toBe('incident_opened');
    expect(outbox.pending()).toBe(0);
    await outbox.stop();
  });

  it('news waiting for the next digest does not wake the queue before the digest is due', async () => {
    const { clock, channel, outbox } = await setup();
    await queueFasterThanTheRoom(channel, outbox, 30);
    for (let i = 30; i < 40; i++) await outbox.notify({ kind: 'incident_opened', incident: view(`host-${i}`) });
    await outbox.drain();
    // The waiting news is due by its own time (now); the next digest is a minute away. Counting the
    // loops that look at the queue over 100 ms of real time: a wake-up timed from the items' own
    // due times ran one about every millisecond.
    let looks = 0;
    const store = (outbox as unknown as { store: { get: () => unknown } }).store;
    const get = store.get.bind(store);
    store.get = () => {
      looks++;
      return get();
    };
    await new Promise((r) => setTimeout(r, 100));
    expect(looks).toBeLessThanOrEqual(2);
    clock.advance(60_000);
    outbox.kick();
    await outbox.drain();
    expect(kinds(channel).at(-1)).toBe('digest:digest:10');
    await outbox.stop();
  });

  it('without storm mode every incident gets its own message (the old design)', async () => {
    const clock = new FakeClock();
    const channel = new RecordingChannel();
    const outbox = new Outbox(new MemoryStore(), [channel], clock, silentLogger);
    outbox.start();
    for (let i = 0; i < 30; i++) await outbox.notify({ kind: 'incident_opened', incident: view(`host-${i}`) });
    await outbox.drain();
    expect(kinds(channel)).toEqual(Array(30).fill('incident_opened'));
    await outbox.stop();
  });
});
