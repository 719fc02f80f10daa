import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { CorrelationEngine } from '../../../src/domain/correlation/engine.js';
import { incidentJson } from '../../../src/domain/correlation/incident-json.js';
import { jsonText } from '../../../src/core/json-sink.js';
import { PackedSightingOp, packOp, writeXdrSyncJson } from '../../../src/domain/correlation/packed-sighting-op.js';
import type { XdrOp } from '../../../src/domain/correlation/types.js';
import { ctimSighting } from '../../../src/domain/correlation/xdr-sync.js';
import { LowdbStore } from '../../../src/store/lowdb-store.js';
import { FakeXdr, ManualTimers, RecordingNotifier, quietCorrelationConfig, resetSeq, sighting, tempStore } from './helpers.js';

const config = quietCorrelationConfig();

let env: Awaited<ReturnType<typeof tempStore>>;
let xdr: FakeXdr;

function engine(store: LowdbStore, awaitSideEffects = true): CorrelationEngine {
  let n = 0;
  return new CorrelationEngine({
    awaitSideEffects,
    store,
    xdr,
    notifier: new RecordingNotifier(),
    clock: new FakeClock('2022-03-01T12:00:00Z'),
    logger: silentLogger,
    config,
    incidentUrlTemplate: 'https://visibility.amp.cisco.com/incidents?q=id:{shortId}#summary',
    webhookPoster: async () => undefined,
    timers: new ManualTimers(),
    newId: () => `inc-${++n}`,
  });
}

/** A module's own CTIM sighting, as the bench's load sends it. */
function withModuleCtim(host: string, n: number) {
  const s = sighting(host, { ioc: `evil-${n}.example` });
  return {
    ...s,
    ctim: {
      type: 'sighting',
      source: 'SecureX Orchestration',
      observed_time: { start_time: s.observedAt },
      count: 1,
      confidence: 'High',
      description: 'quoted "text" and unicode: é ✓',
      targets: [{ type: 'endpoint', observables: [{ type: 'hostname', value: host }], observed_time: { start_time: s.observedAt } }],
      observables: [s.ioc],
      external_ids: [`module-${n}`],
    },
  };
}

/** Bodies in a fixed order (the mirror sends a few incidents at once, in any order). */
const inOrder = (bodies: Record<string, unknown>[]) => [...bodies].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
const sent = () => inOrder(xdr.sightings.map(({ id: _id, ...body }) => body));

beforeEach(async () => {
  env = await tempStore();
  xdr = new FakeXdr();
  resetSeq();
});
afterEach(async () => {
  await env.store.close();
  await env.cleanup();
});

describe('PackedSightingOp', () => {
  const plain = { id: 7, kind: 'sighting' as const, seq: 3, ctim: ctimSighting({ ...withModuleCtim('h', 1), seq: 3 }), attempts: 0 };

  it('gives the queued body back unchanged, as a new copy on every read', () => {
    const op = new PackedSightingOp(plain);
    expect(op.ctim).toEqual(plain.ctim);
    const first = op.ctim;
    (first.targets as unknown[]).length = 0;
    first.source = 'changed';
    expect(op.ctim).toEqual(plain.ctim);
  });

  it('is written exactly as the plain op was, also once XDR stored it or refused it', () => {
    const op = new PackedSightingOp(plain);
    const same: Record<string, unknown> = { ...plain };
    expect(jsonText((sink) => op.writeJson(sink))).toBe(JSON.stringify(same));
    expect(JSON.stringify(op)).toBe(JSON.stringify(same));
    op.lastError = 'XDR answered 503.';
    same.lastError = 'XDR answered 503.';
    op.attempts = 1;
    same.attempts = 1;
    op.xdrSightingId = 'https://private.intel.amp.cisco.com:443/ctia/sighting/sighting-1';
    same.xdrSightingId = op.xdrSightingId;
    // A plain op that failed first and was stored later has its keys in that order; the packed one
    // always writes xdrSightingId first: the same op, the same fields, read back the same.
    expect(JSON.parse(jsonText((sink) => op.writeJson(sink)))).toEqual(same);
    expect(jsonText((sink) => op.writeJson(sink))).toBe(JSON.stringify(op));
    const queue: XdrOp[] = [{ id: 1, kind: 'create_incident', attempts: 0 }, op, { id: 9, kind: 'patch', attempts: 2, lastError: 'x' }];
    const xdrSync = { incidentId: 'x-1', pending: queue, lastError: undefined };
    expect(jsonText((sink) => writeXdrSyncJson(xdrSync, sink))).toBe(JSON.stringify(xdrSync));
    expect(jsonText((sink) => writeXdrSyncJson({}, sink))).toBe('{}');
    // The body goes to the sink as kept (held by reference by a snapshot), the rest as text made now.
    const kept: unknown[] = [];
    op.writeJson({ text: () => undefined, kept: (piece) => kept.push(piece) });
    expect(kept).toEqual([JSON.stringify(plain.ctim)]);
  });

  it('leaves an op with a field this version does not know as it is (a newer version wrote it)', () => {
    const newer = { ...plain, priority: 'high' } as unknown as XdrOp;
    expect(packOp(newer)).toBe(newer);
    expect(packOp(plain)).toBeInstanceOf(PackedSightingOp);
    const create: XdrOp = { id: 1, kind: 'create_incident', attempts: 0 };
    expect(packOp(create)).toBe(create);
  });
});

describe('the lowdb queue holds packed sighting ops', () => {
  it('queues packed ops, writes them as plain ones, and sends the body it rendered when it queued them', async () => {
    xdr.down = true;
    const e = engine(env.store);
    const items = [withModuleCtim('h1', 1), withModuleCtim('h1', 2), withModuleCtim('h2', 3)];
    await e.ingest(items);
    const queued = Object.values(e.state().incidents).flatMap((i) => i.xdrSync.pending.filter((op) => op.kind === 'sighting'));
    expect(queued).toHaveLength(3);
    for (const op of queued) expect(op).toBeInstanceOf(PackedSightingOp);
    await env.store.flush();
    const onDisk = JSON.parse(await readFile(env.path, 'utf8')) as { correlation: { incidents: Record<string, { xdrSync: { pending: XdrOp[] } }> } };
    const written = Object.values(onDisk.correlation.incidents).flatMap((i) => i.xdrSync.pending.filter((op) => op.kind === 'sighting'));
    expect(written.map((op) => (op as { ctim: unknown }).ctim)).toEqual(items.map((s) => ctimSighting(s)));
    for (const inc of Object.values(e.state().incidents)) expect(incidentJson(inc)).toBe(JSON.stringify(inc));
    xdr.down = false;
    await e.syncPending();
    expect(sent()).toEqual(inOrder(items.map((s) => ctimSighting(s))));
  });

  it('sends an op queued by the previous version (a plain body in the state file) with the same CTIM body', async () => {
    xdr.down = true;
    const e = engine(env.store);
    const items = [withModuleCtim('h1', 1), withModuleCtim('h1', 2)];
    await e.ingest(items);
    await env.store.close();
    // The state file as the previous version wrote it: ops with their body as a plain object (the same JSON).
    const file = JSON.parse(await readFile(env.path, 'utf8')) as { correlation: { incidents: Record<string, { xdrSync: { pending: Array<XdrOp & { ctim?: unknown }> } }> } };
    const before = Object.values(file.correlation.incidents).flatMap((i) => i.xdrSync.pending.filter((op) => op.kind === 'sighting').map((op) => op.ctim));
    expect(before).toEqual(items.map((s) => ctimSighting(s)));
    await writeFile(env.path, JSON.stringify(file));
    env.store = await LowdbStore.open(env.path);
    xdr.down = false;
    const e2 = engine(env.store);
    for (const inc of Object.values(e2.state().incidents)) for (const op of inc.xdrSync.pending) if (op.kind === 'sighting') expect(op).toBeInstanceOf(PackedSightingOp);
    await e2.syncPending();
    expect(sent()).toEqual(inOrder(before as Record<string, unknown>[]));
    expect(Object.values(e2.state().incidents).flatMap((i) => i.xdrSync.pending)).toEqual([]);
  });

  it('a restart in the middle of the queue sends every sighting once', async () => {
    xdr.down = true;
    const e = engine(env.store);
    const items = Array.from({ length: 12 }, (_, n) => withModuleCtim(`host-${n % 3}`, n));
    await e.ingest(items);
    xdr.down = false;
    // XDR takes the first few sightings, then the process dies: some created and recorded, the
    // one in flight created in XDR but its id not recorded (the crash came before the write).
    let created = 0;
    xdr.fault = (call) => {
      if (call !== 'createSighting') return undefined;
      created++;
      return created > 5 ? 503 : undefined;
    };
    const realCreate = xdr.createSighting.bind(xdr);
    let lost = false;
    xdr.createSighting = async (s) => {
      const made = await realCreate(s);
      if (created === 5 && !lost) {
        lost = true;
        throw new Error('process killed right after XDR stored the sighting');
      }
      return made;
    };
    await e.syncPending().catch(() => undefined);
    await env.store.flush();
    await env.store.close();
    expect(xdr.sightings.length).toBeGreaterThanOrEqual(5);
    expect(xdr.sightings.length).toBeLessThan(items.length);
    xdr.fault = undefined;
    xdr.createSighting = realCreate;
    env.store = await LowdbStore.open(env.path);
    const e2 = engine(env.store);
    for (let i = 0; i < 10 && Object.values(e2.state().incidents).some((inc) => inc.xdrSync.pending.length > 0); i++) await e2.syncPending();
    const ids = xdr.sightings.map((s) => (s.external_ids as string[]).at(-1));
    expect(new Set(ids).size).toBe(ids.length);
    expect(sent()).toEqual(inOrder(items.map((s) => ctimSighting(s))));
    expect(xdr.relationships.filter((r) => r.relationship_type === 'member-of')).toHaveLength(items.length);
  });
});
