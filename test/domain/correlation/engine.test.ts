import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UpstreamError } from '../../../src/core/errors.js';
import { FakeClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { Config } from '../../../src/config/load.js';
import { CorrelationEngine, actionMatches } from '../../../src/domain/correlation/engine.js';
import { LowdbStore } from '../../../src/store/lowdb-store.js';
import { renderForWebex } from '../../../src/notify/cards/index.js';
import { FakeXdr, ManualTimers, RecordingNotifier, resetSeq, sighting, tempStore } from './helpers.js';

const baseConfig: Config['correlation'] = {
  rejectedIsClosed: true,
  ladder: 'eq 2 -> notify; gte 3 -> mention; gte 5 -> respond',
  oncall: ['oncall@example.com'],
  responseActions: ['umbrella-block'],
  dryRun: false,
  coalesceMs: 5000,
  statusSyncSeconds: 300,
};

let env: Awaited<ReturnType<typeof tempStore>>;
let xdr: FakeXdr;
let notifier: RecordingNotifier;
let timers: ManualTimers;
let posted: { url: string; body: unknown }[];

function engine(config: Partial<Config['correlation']> = {}, store: LowdbStore = env.store): CorrelationEngine {
  let n = 0;
  return new CorrelationEngine({
    awaitSideEffects: true,
    store,
    xdr,
    notifier,
    clock: new FakeClock('2022-03-01T12:00:00Z'),
    logger: silentLogger,
    config: { ...baseConfig, ...config },
    incidentUrlTemplate: 'https://visibility.amp.cisco.com/incidents?q=id:{shortId}#summary',
    webhookPoster: async (url, body) => void posted.push({ url, body }),
    timers,
    newId: () => `inc-${store === env.store ? '' : 'r'}${++n}`,
  });
}

beforeEach(async () => {
  env = await tempStore();
  xdr = new FakeXdr();
  notifier = new RecordingNotifier();
  timers = new ManualTimers();
  posted = [];
  resetSeq();
});
afterEach(async () => {
  await env.store.close();
  await env.cleanup();
});

describe('CorrelationEngine: counting and notifications', () => {
  it('opens an incident on the first sighting, mirrors it to XDR and announces it with the link', async () => {
    const e = engine();
    await e.ingest([sighting('heimdallr')]);
    const [inc] = Object.values(e.state().incidents);
    expect(inc).toMatchObject({ count: 1, targetKey: 'hostname:heimdallr' });
    expect(inc!.xdrSync.pending).toEqual([]);
    const remote = [...xdr.incidents.values()];
    expect(remote).toHaveLength(1);
    expect(remote[0]).toMatchObject({
      source: 'sightline',
      status: 'New',
      confidence: 'Medium',
      title: 'Correlated incident for: heimdallr [by Sightline]',
      external_ids: ['sightline-target-hostname-heimdallr', `sightline-incident-${inc!.id}`],
    });
    expect(xdr.sightings).toHaveLength(1);
    expect(xdr.sightings[0]!.source).toBe('AMP for Endpoints - sightline');
    expect(xdr.relationships).toEqual([expect.objectContaining({ relationship_type: 'member-of', source_ref: xdr.sightings[0]!.id, target_ref: remote[0]!.id })]);
    const opened = notifier.of('incident_opened');
    expect(opened).toHaveLength(1);
    expect(opened[0]!.incident.url).toMatch(/^https:\/\/visibility\.amp\.cisco\.com\/incidents\?q=id:incident-[0-9a-f-]+#summary$/);
  });

  it('counts the second and third sightings, fires eq 2 and gte 3 once each, and patches XDR', async () => {
    const e = engine();
    await e.ingest([sighting('h')]);
    await e.ingest([sighting('h')]);
    await e.ingest([sighting('h')]);
    await e.ingest([sighting('h')]);
    const inc = Object.values(e.state().incidents)[0]!;
    expect(inc.count).toBe(4);
    expect(inc.rungsFired.map((r) => [r.rung, r.outcome])).toEqual([
      ['eq 2', 'notify: sent'],
      ['gte 3', 'mention: sent'],
    ]);
    expect(notifier.of('rung_fired').map((n) => [n.rung, n.action, n.mention])).toEqual([
      ['eq 2', 'notify', undefined],
      ['gte 3', 'mention', ['oncall@example.com']],
    ]);
    const remote = [...xdr.incidents.values()][0]!;
    expect(remote).toMatchObject({ confidence: 'High', meta: { sighting_count: 4, sightline_target: 'hostname:h' } });
    expect(remote.description).toContain('`4`');
    expect(xdr.relationships.filter((r) => r.relationship_type === 'member-of')).toHaveLength(4);
  });

  it('coalesces 20 sightings within the window into ONE threaded update', async () => {
    const e = engine();
    await e.ingest([sighting('h')]);
    await e.recordCardMessage(Object.keys(e.state().incidents)[0]!, 'msg-card-1');
    for (let i = 0; i < 20; i++) await e.ingest([sighting('h')]);
    expect(notifier.of('incident_updated')).toHaveLength(0);
    expect(timers.scheduled.size).toBe(1);
    expect([...timers.scheduled.values()][0]!.ms).toBe(5000);
    timers.fireAll();
    await e.flushCoalesced();
    const updates = notifier.of('incident_updated');
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({ newSightings: 20, crossed: ['eq 2', 'gte 3', 'gte 5'], replyTo: 'msg-card-1' });
    expect(updates[0]!.incident.count).toBe(21);
  });

  it('sends each update at once when coalescing is off', async () => {
    const e = engine({ coalesceMs: 0 });
    await e.ingest([sighting('h')]);
    await e.ingest([sighting('h')]);
    await e.ingest([sighting('h')]);
    expect(notifier.of('incident_updated').map((n) => n.newSightings)).toEqual([1, 1]);
  });

  it('sends no update that would only repeat the count an earlier message already showed', async () => {
    // Side effects run behind counting: under a backlog, the first batch's update is rendered after the
    // second batch was counted, so it already shows both; the second batch's own update then had nothing new.
    const e = new CorrelationEngine({
      store: env.store,
      xdr,
      notifier,
      clock: new FakeClock('2022-03-01T12:00:00Z'),
      logger: silentLogger,
      config: { ...baseConfig, coalesceMs: 0, ladder: 'gte 100 -> notify' },
      timers,
    });
    await e.ingest([sighting('h')]);
    await e.idle();
    await Promise.all([e.ingest([sighting('h')]), e.ingest([sighting('h')]), e.ingest([sighting('h')])]);
    await e.idle();
    const counts = notifier.of('incident_updated').map((n) => n.incident.count);
    expect(counts.at(-1)).toBe(4);
    expect(new Set(counts).size).toBe(counts.length);
    expect(counts.length).toBeLessThan(3);
  });

  it('applies 50 concurrent deliveries for one target into one incident counted 50', async () => {
    const e = engine();
    const items = Array.from({ length: 50 }, () => sighting('busy-host'));
    await Promise.all(items.map((s) => e.ingest([s])));
    const incidents = Object.values(e.state().incidents);
    expect(incidents).toHaveLength(1);
    expect(incidents[0]!.count).toBe(50);
    expect(xdr.incidents.size).toBe(1);
    expect([...xdr.incidents.values()][0]!.meta).toMatchObject({ sighting_count: 50 });
    // A burst bigger than the per-incident queue: the newest 20 sightings are copied into XDR one by
    // one, the rest only counted (the XDR incident still says 50), so the queue stays bounded.
    expect(xdr.sightings.length + (incidents[0]!.xdrSync.unmirrored ?? 0)).toBe(50);
    expect(xdr.sightings.length).toBeGreaterThanOrEqual(20);
    expect(e.lastAppliedSeq()).toBe(50);
  });

  it('counts a replayed sequence number once, also after a restart', async () => {
    const e = engine();
    const s1 = sighting('h');
    const s2 = sighting('h');
    await e.ingest([s1, s2]);
    await e.ingest([s2]);
    await e.ingest([s1, s2]);
    await env.store.close();
    const reopened = await LowdbStore.open(env.path);
    const e2 = engine({}, reopened);
    await e2.ingest([s1, s2]);
    expect(Object.values(e2.state().incidents)[0]!.count).toBe(2);
    expect(e2.lastAppliedSeq()).toBe(2);
    expect(xdr.sightings).toHaveLength(2);
    await reopened.close();
    env.store = await LowdbStore.open(env.path);
  });
});

describe('CorrelationEngine: closing and XDR status', () => {
  it('opens a new incident linked related-to the closed one', async () => {
    const e = engine();
    await e.ingest([sighting('h')]);
    const first = Object.values(e.state().incidents)[0]!;
    await e.closeIncident(first.id, 'analyst@example.com', 'handled');
    expect(xdr.incidents.get(first.xdrId!.split('/').pop()!)!.status).toBe('Closed');
    await e.ingest([sighting('h')]);
    const second = Object.values(e.state().incidents).find((i) => i.id !== first.id)!;
    expect(second).toMatchObject({ count: 1, previousIncidentId: first.id, status: 'New' });
    expect(xdr.relationships.filter((r) => r.relationship_type === 'related-to')).toEqual([
      expect.objectContaining({ source_ref: first.xdrId, target_ref: second.xdrId }),
    ]);
    expect(notifier.of('incident_closed')).toEqual([expect.objectContaining({ by: 'analyst@example.com', reason: 'handled' })]);
  });

  it.each(['Closed: False Positive', 'Rejected'])('closes locally when XDR says %s, and the next sighting opens a new incident', async (status) => {
    const e = engine();
    await e.ingest([sighting('h')]);
    const first = Object.values(e.state().incidents)[0]!;
    xdr.incidents.get(first.xdrId!.split('/').pop()!)!.status = status;
    expect(await e.syncStatuses()).toEqual({ checked: 1, closed: 1 });
    expect(e.incident(first.id)).toMatchObject({ status, closedBy: 'XDR' });
    expect(e.incident(first.id)!.xdrSync.pending).toEqual([]);
    await e.ingest([sighting('h')]);
    expect(Object.values(e.state().incidents)).toHaveLength(2);
  });

  it('follows open statuses set in the console without closing', async () => {
    const e = engine();
    await e.ingest([sighting('h')]);
    const first = Object.values(e.state().incidents)[0]!;
    xdr.incidents.get(first.xdrId!.split('/').pop()!)!.status = 'Open: Investigating';
    expect(await e.syncStatuses()).toEqual({ checked: 1, closed: 0 });
    expect(e.incident(first.id)!.status).toBe('Open: Investigating');
  });
});

describe('CorrelationEngine: XDR outages', () => {
  it('keeps local state right while XDR is down and catches up exactly once afterwards', async () => {
    const e = engine();
    xdr.down = true;
    for (let i = 0; i < 3; i++) await e.ingest([sighting('a')]);
    await e.ingest([sighting('b')]);
    const a = Object.values(e.state().incidents).find((i) => i.targetValue === 'a')!;
    await e.closeIncident(a.id, 'analyst');
    await e.ingest([sighting('a'), sighting('a')]);
    const local = Object.values(e.state().incidents);
    expect(local.map((i) => [i.targetValue, i.count, i.status])).toEqual([
      ['a', 3, 'Closed'],
      ['b', 1, 'New'],
      ['a', 2, 'New'],
    ]);
    expect(local.every((i) => i.xdrSync.pending.length > 0)).toBe(true);
    expect(local[0]!.xdrSync.lastError).toMatch(/cannot be reached/);
    expect(notifier.of('incident_opened')).toHaveLength(3);
    expect(xdr.incidents.size).toBe(0);

    xdr.down = false;
    const report = await e.syncPending();
    expect(report.pending).toBe(0);
    await e.syncPending();
    const remote = [...xdr.incidents.values()];
    expect(remote).toHaveLength(3);
    expect(remote.map((r) => [r.title, r.status, (r.meta as { sighting_count: number }).sighting_count])).toEqual([
      ['Correlated incident for: a [by Sightline]', 'Closed', 3],
      ['Correlated incident for: b [by Sightline]', 'New', 1],
      ['Correlated incident for: a [by Sightline]', 'New', 2],
    ]);
    expect(xdr.sightings).toHaveLength(6);
    expect(xdr.relationships.filter((r) => r.relationship_type === 'member-of')).toHaveLength(6);
    const related = xdr.relationships.filter((r) => r.relationship_type === 'related-to');
    expect(related).toEqual([expect.objectContaining({ source_ref: remote[0]!.id, target_ref: remote[2]!.id })]);
  });

  it('never duplicates an incident XDR created before Sightline could record its id', async () => {
    const e = engine();
    xdr.down = true;
    await e.ingest([sighting('h')]);
    const inc = Object.values(e.state().incidents)[0]!;
    // As if the POST had succeeded but the process died before writing the id down.
    xdr.down = false;
    await xdr.createIncident({ title: 'x', external_ids: [`sightline-incident-${inc.id}`] });
    await e.syncPending();
    expect(xdr.incidents.size).toBe(1);
    expect(e.incident(inc.id)!.xdrId).toBe([...xdr.incidents.values()][0]!.id);
    expect(e.incident(inc.id)!.xdrSync.pending).toEqual([]);
  });

  it('collapses the description patches queued during an outage into one', async () => {
    const e = engine();
    await e.ingest([sighting('h')]);
    xdr.down = true;
    for (let i = 0; i < 10; i++) await e.ingest([sighting('h')]);
    const inc = Object.values(e.state().incidents)[0]!;
    expect(inc.xdrSync.pending.filter((o) => o.kind === 'patch')).toHaveLength(1);
    expect(inc.xdrSync.pending.filter((o) => o.kind === 'sighting')).toHaveLength(10);
  });
});

describe('CorrelationEngine: a struggling XDR', () => {
  const titleOf = (arg: unknown): string => String((arg as { title?: string }).title);

  it('a 5xx on one incident does not hold up the others in the same pass', async () => {
    const e = engine();
    xdr.down = true;
    for (const host of ['a', 'b', 'c', 'd', 'e']) await e.ingest([sighting(host)]);
    xdr.down = false;
    xdr.fault = (call, arg) => (call === 'createIncident' && titleOf(arg).includes(': b ') ? 503 : undefined);
    const report = await e.syncPending();
    expect(report.failed).toBe(1);
    expect([...xdr.incidents.values()].map((i) => i.title).sort()).toEqual(['a', 'c', 'd', 'e'].map((h) => `Correlated incident for: ${h} [by Sightline]`));
    const b = Object.values(e.state().incidents).find((i) => i.targetValue === 'b')!;
    expect(b.xdrSync.lastError).toMatch(/503/);
    xdr.fault = undefined;
    expect((await e.syncPending()).pending).toBe(0);
    expect(xdr.incidents.size).toBe(5);
  });

  it('retries a sighting whose create failed within the pass, and never creates it twice', async () => {
    const e = engine();
    await e.ingest([sighting('a')]);
    await e.syncPending();
    xdr.down = true;
    await e.ingest([sighting('a')]);
    xdr.down = false;
    // The create reaches XDR but its answer is lost (a 502 from a proxy in between).
    const realCreate = xdr.createSighting.bind(xdr);
    let creates = 0;
    xdr.createSighting = async (s) => {
      const made = await realCreate(s);
      if (++creates === 1) throw new UpstreamError('XDR', 'XDR answered 502.', { status: 502 });
      return made;
    };
    const report = await e.syncPending();
    expect(report).toMatchObject({ failed: 0, pending: 0 });
    expect(creates).toBe(1);
    expect(xdr.calls).toContain('findSightingsByExternalId');
    expect(xdr.sightings).toHaveLength(2);
    expect(xdr.relationships.filter((r) => r.relationship_type === 'member-of')).toHaveLength(2);
  });

  it('links a sighting it just created without looking the link up, and looks it up when the link may exist', async () => {
    const e = engine();
    await e.ingest([sighting('a')]);
    await e.syncPending();
    xdr.calls = [];
    await e.ingest([sighting('a'), sighting('a')]);
    await e.syncPending();
    // Fresh sightings: a create and a link each, no lookup of a relationship that cannot exist yet.
    expect(xdr.calls.filter((c) => c === 'createSighting')).toHaveLength(2);
    expect(xdr.calls.filter((c) => c === 'createRelationship')).toHaveLength(2);
    expect(xdr.calls).not.toContain('findRelationshipsByExternalId');
    // The link fails after the sighting was created and recorded: the retry may find a link made
    // by a request whose answer was lost, so it looks first, and links exactly once.
    xdr.calls = [];
    const realRelate = xdr.createRelationship.bind(xdr);
    let relates = 0;
    xdr.createRelationship = async (r) => {
      const made = await realRelate(r);
      if (++relates === 1) throw new UpstreamError('XDR', 'XDR answered 502.', { status: 502 });
      return made;
    };
    await e.ingest([sighting('a')]);
    expect(await e.syncPending()).toMatchObject({ failed: 0, pending: 0 });
    expect(relates).toBe(1);
    expect(xdr.calls).toContain('findRelationshipsByExternalId');
    expect(xdr.calls.filter((c) => c === 'createSighting')).toHaveLength(1);
    expect(xdr.relationships.filter((r) => r.relationship_type === 'member-of')).toHaveLength(4);
  });

  it('on stop, finishes the XDR calls under way, starts no more and leaves the rest queued', async () => {
    const e = engine();
    xdr.down = true;
    for (let i = 0; i < 10; i++) await e.ingest([sighting(`host-${i}`)]);
    xdr.down = false;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const find = xdr.findIncidentsByExternalId.bind(xdr);
    xdr.findIncidentsByExternalId = async (ext) => {
      await gate;
      return find(ext);
    };
    const pass = e.syncPending();
    const stopped = e.stop();
    release();
    await Promise.all([pass, stopped]);
    const created = xdr.incidents.size;
    expect(created).toBeGreaterThan(0);
    expect(created).toBeLessThanOrEqual(4);
    expect(Object.values(e.state().incidents).filter((i) => !i.xdrId)).toHaveLength(10 - created);
    expect((await e.syncPending()).done).toBe(0);
  });

  it('ends the pass at a 429, leaving the rest for the next one', async () => {
    const e = engine();
    xdr.down = true;
    for (const host of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) await e.ingest([sighting(host)]);
    xdr.down = false;
    xdr.fault = (call) => (call === 'createIncident' ? 429 : undefined);
    const report = await e.syncPending();
    // The workers already in a call finish it; no new incident is started after the 429.
    expect(xdr.calls.filter((c) => c === 'createIncident').length).toBeLessThanOrEqual(4);
    expect(report.failed).toBeGreaterThan(0);
    xdr.fault = undefined;
    await e.syncPending();
    expect(xdr.incidents.size).toBe(8);
  });

  it('ends the pass after three failures in a row, so a down XDR is not hammered', async () => {
    const e = engine();
    xdr.down = true;
    for (let i = 0; i < 30; i++) await e.ingest([sighting(`host-${i}`)]);
    xdr.calls = [];
    const report = await e.syncPending();
    expect(report.done).toBe(0);
    // Four incidents are mirrored at once: the calls already under way finish, no new one starts.
    expect(xdr.calls.length).toBeLessThanOrEqual(4);
    expect(report.pending).toBeGreaterThan(30);
  });
});

describe('CorrelationEngine: ladder actions', () => {
  it('one delivery of several sightings: each rung says the count it fired at, and respond keeps the IOC out of the action', async () => {
    const e = engine({ ladder: 'eq 2 -> notify; gte 3 -> mention; gte 5 -> respond' });
    await e.ingest([sighting('h'), sighting('h'), sighting('h'), sighting('h'), sighting('h', { ioc: '<@all>[x](https://evil.example)' }), sighting('h')]);
    const fired = notifier.of('rung_fired');
    expect(fired.map((n) => [n.rung, n.firedAtCount, n.incident.count])).toEqual([
      ['eq 2', 2, 6],
      ['gte 3', 3, 6],
      ['gte 5', 5, 6],
    ]);
    expect(fired[2]).toMatchObject({ action: 'respond', outcome: expect.stringContaining('Umbrella') });
    const [m] = renderForWebex(fired[0]!);
    expect(m!.markdown).toContain('(at 2 security events; 6 now)');
  });

  it('triggers the configured response action for the last IOC at gte 5, once', async () => {
    const e = engine();
    for (let i = 0; i < 7; i++) await e.ingest([sighting('h', { ioc: `evil${i}.example` })]);
    expect(xdr.triggered).toEqual([{ action: 'block', observable: { type: 'domain', value: 'evil4.example' } }]);
    const inc = Object.values(e.state().incidents)[0]!;
    expect(inc.rungsFired.at(-1)).toMatchObject({ rung: 'gte 5', outcome: 'respond: Umbrella Block in Umbrella: success' });
  });

  it('records but does not trigger in dry run', async () => {
    const e = engine({ dryRun: true, ladder: 'gte 2 -> respond, webhook', webhookUrl: 'https://hooks.example/x' });
    for (let i = 0; i < 3; i++) await e.ingest([sighting('h')]);
    expect(xdr.triggered).toEqual([]);
    expect(posted).toEqual([]);
    const inc = Object.values(e.state().incidents)[0]!;
    expect(inc.rungsFired).toEqual([expect.objectContaining({ rung: 'gte 2', dryRun: true, outcome: 'respond: dry run; webhook: dry run' })]);
    expect(notifier.of('rung_fired').map((n) => [n.action, n.dryRun])).toEqual([
      ['respond', true],
      ['webhook', true],
    ]);
  });

  it('posts the webhook with the incident', async () => {
    const e = engine({ ladder: 'eq 2 -> webhook', webhookUrl: 'https://hooks.example/x' });
    await e.ingest([sighting('h'), sighting('h')]);
    expect(posted).toEqual([
      { url: 'https://hooks.example/x', body: expect.objectContaining({ event: 'sightline.rung_fired', rung: 'eq 2', incident: expect.objectContaining({ count: 2 }) }) },
    ]);
  });

  it('fires a rung only once even when the process restarts after recording it', async () => {
    const e = engine();
    await e.ingest([sighting('h'), sighting('h')]);
    await env.store.close();
    const reopened = await LowdbStore.open(env.path);
    const e2 = engine({}, reopened);
    await e2.ingest([sighting('h')]);
    expect(Object.values(e2.state().incidents)[0]!.rungsFired.map((r) => r.rung)).toEqual(['eq 2', 'gte 3']);
    expect(notifier.of('rung_fired').map((n) => n.rung)).toEqual(['eq 2', 'gte 3']);
    await reopened.close();
    env.store = await LowdbStore.open(env.path);
  });

  it('matches configured action names against id, title and module', () => {
    const a = { id: 'block', title: 'Block in Umbrella', module: 'Umbrella', moduleInstanceId: 'x' };
    expect(actionMatches('umbrella-block', a)).toBe(true);
    expect(actionMatches('Block in Umbrella', a)).toBe(true);
    expect(actionMatches('block', a)).toBe(true);
    expect(actionMatches('isolate', a)).toBe(false);
  });
});
