import { describe, expect, it } from 'vitest';
import type { NewMessage, WebexApi, WebexMessage } from '../../src/clients/webex/port.js';
import { UpstreamError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Notification } from '../../src/notify/notification.js';
import { UndeliverableError } from '../../src/notify/undeliverable.js';
import { WebexChannel } from '../../src/notify/webex-channel.js';
import { hunt, incident, outcome, target } from './fixtures.js';

/** An in-memory WebexApi (the port, not a module mock): records posts, can fail on chosen calls. */
class RecordingWebex {
  posted: NewMessage[] = [];
  failOn = new Map<number, Error>();
  private calls = 0;
  async postMessage(msg: NewMessage): Promise<WebexMessage> {
    const n = this.calls++;
    const err = this.failOn.get(n);
    if (err) throw err;
    this.posted.push(msg);
    return { id: `msg-${this.posted.length}`, roomId: msg.roomId!, personId: 'bot', personEmail: 'bot@webex.bot', created: new Date(0).toISOString() };
  }
  asApi(): WebexApi {
    return this as unknown as WebexApi;
  }
}

function setup(opts: { kinds?: Notification['kind'][] } = {}) {
  const webex = new RecordingWebex();
  const ensured: string[] = [];
  const posted: [string, string][] = [];
  const channel = new WebexChannel({
    api: webex.asApi(),
    rooms: { ensureRoom: async (title) => (ensured.push(title), `room:${title}`) },
    huntRoom: 'TALOS ROUNDUP Investigation',
    incidentsRoom: 'Sightline Incidents',
    logger: silentLogger,
    kinds: opts.kinds,
    onPosted: (n, id) => void posted.push([n.kind, id]),
  });
  return { webex, channel, ensured, posted };
}

const threeTargets = [0, 1, 2].map((i) => target(i, [{ type: 'domain', value: `evil${i}.example` }]));
const targetsFound: Notification = { kind: 'threat_targets', hunt, threat: outcome('Win.Packed.Zusy-9878674-0', 'Zusy', threeTargets) };

describe('WebexChannel', () => {
  it('posts hunt news to the hunt room as card + markdown fallback, one message per target', async () => {
    const { webex, channel, posted } = setup();
    await channel.deliver(targetsFound);
    expect(webex.posted).toHaveLength(3);
    for (const m of webex.posted) {
      expect(m.roomId).toBe('room:TALOS ROUNDUP Investigation');
      expect(m.markdown).toBeTruthy();
      expect(m.attachments).toHaveLength(1);
      expect(m.attachments![0]!.contentType).toBe('application/vnd.microsoft.card.adaptive');
      expect(m.attachments![0]!.content).toMatchObject({ type: 'AdaptiveCard', version: '1.3' });
    }
    expect(posted).toEqual([['threat_targets', 'msg-1'], ['threat_targets', 'msg-2'], ['threat_targets', 'msg-3']]);
  });

  it('posts incidents to the incidents room and threads count updates under the first card', async () => {
    const { webex, channel } = setup();
    await channel.deliver({ kind: 'incident_opened', incident });
    await channel.deliver({ kind: 'incident_updated', incident, newSightings: 1, crossed: [], replyTo: 'msg-1' });
    expect(webex.posted.map((m) => m.roomId)).toEqual(['room:Sightline Incidents', 'room:Sightline Incidents']);
    expect(webex.posted[1]).toMatchObject({ parentId: 'msg-1' });
    expect(webex.posted[1]!.attachments).toBeUndefined();
  });

  it('accepts only the configured kinds', () => {
    const { channel } = setup({ kinds: ['incident_opened'] });
    expect(channel.accepts({ kind: 'incident_opened', incident })).toBe(true);
    expect(channel.accepts(targetsFound)).toBe(false);
  });

  it('falls back to markdown when Webex refuses the card with 400', async () => {
    const { webex, channel } = setup();
    webex.failOn.set(0, new UpstreamError('webex', 'bad card', { status: 400 }));
    await channel.deliver({ kind: 'incident_opened', incident });
    expect(webex.posted).toHaveLength(1);
    expect(webex.posted[0]!.attachments).toBeUndefined();
    expect(webex.posted[0]!.markdown).toContain('heimdallr');
  });

  it('throws on other failures, and a retry resumes after the cards its progress says are out', async () => {
    const { webex, channel } = setup();
    webex.failOn.set(1, new UpstreamError('webex', 'Webex is unavailable', { status: 503 }));
    const recorded: number[] = [];
    const progress = { sent: 0, record: async (n: number) => void recorded.push(n) };
    await expect(channel.deliver(targetsFound, progress)).rejects.toThrow('Webex is unavailable');
    expect(webex.posted).toHaveLength(1);
    expect(recorded).toEqual([1]);
    // The outbox's next try (this process or another) starts where the record says.
    await channel.deliver(structuredClone(targetsFound), { sent: recorded.at(-1)!, record: async (n) => void recorded.push(n) });
    expect(webex.posted.map((m) => m.markdown!.match(/DESKTOP-[0-9A-F]+/)![0])).toEqual(['DESKTOP-10000', 'DESKTOP-10001', 'DESKTOP-10002']);
    // Not after the last card: the outbox's receipt covers the whole item.
    expect(recorded).toEqual([1, 2]);
  });
});

describe('WebexChannel permanent refusals', () => {
  it('403 or 404 on a post: forgets the room, finds or creates it again, and posts there unthreaded', async () => {
    for (const status of [403, 404]) {
      const webex = new RecordingWebex();
      const forgotten: string[] = [];
      let generation = 0;
      const channel = new WebexChannel({
        api: webex.asApi(),
        rooms: { ensureRoom: async (title) => `room:${title}:${generation}`, forget: async (title) => void (forgotten.push(title), generation++) },
        huntRoom: 'Hunts',
        incidentsRoom: 'Incidents',
        logger: silentLogger,
      });
      webex.failOn.set(0, new UpstreamError('webex', `Webex answered ${status}: Could not find a room with provided ID.`, { status }));
      await channel.deliver({ kind: 'incident_updated', incident, newSightings: 1, crossed: [], replyTo: 'old-card' });
      expect(forgotten).toEqual(['Incidents']);
      expect(webex.posted).toHaveLength(1);
      expect(webex.posted[0]).toMatchObject({ roomId: 'room:Incidents:1' });
      expect(webex.posted[0]!.parentId).toBeUndefined();
    }
  });

  it('any other permanent 4xx is an UndeliverableError with the reason; 429 and 5xx are not', async () => {
    const { webex, channel } = setup();
    webex.failOn.set(0, new UpstreamError('webex', 'Webex answered 413: Request entity too large', { status: 413 }));
    const err = await channel.deliver({ kind: 'incident_opened', incident }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UndeliverableError);
    expect((err as UndeliverableError).reason).toMatch(/Sightline Incidents.*413.*too large/);
    for (const status of [429, 503, 401]) {
      const s = setup();
      s.webex.failOn.set(0, new UpstreamError('webex', 'temporary', { status }));
      const e = await s.channel.deliver({ kind: 'incident_opened', incident }).catch((x: unknown) => x);
      expect(e).not.toBeInstanceOf(UndeliverableError);
    }
  });
});
