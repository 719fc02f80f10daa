import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { XdrHttpClient } from '../../../src/clients/xdr/client.js';
import type { IncidentApi } from '../../../src/clients/xdr/incident-api.js';
import { FakeClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { CorrelationEngine } from '../../../src/domain/correlation/engine.js';
import { XdrEmulator } from '../../../src/emulators/xdr/index.js';
import { ManualTimers, RecordingNotifier, resetSeq, sighting, tempStore } from './helpers.js';

/**
 * Issue 18, done-when: the same sightings give the same XDR incidents whichever
 * API manages incidents (IROH private-intel or CTIA) — one per target, counts,
 * related-to, console close (a Hold is not a close) — with the XDR fields set.
 */
let emu: XdrEmulator;
let env: Awaited<ReturnType<typeof tempStore>>;

beforeAll(async () => {
  emu = new XdrEmulator({ scenario: { responseActions: [{ id: 'block', title: 'Block', module: 'Umbrella', observableTypes: ['domain'] }] } });
  await emu.start();
});
afterAll(() => emu.stop());
beforeEach(async () => {
  emu.reset();
  resetSeq();
  env = await tempStore();
});
afterEach(async () => {
  await env.store.close();
  await env.cleanup();
});

function engineFor(api: IncidentApi): CorrelationEngine {
  const xdr = new XdrHttpClient({ xdr: emu.xdrConfig({ incidentApi: api }), logger: silentLogger, httpOptions: { retry: { retries: 1, minTimeoutMs: 1, maxTimeoutMs: 5 } } });
  return new CorrelationEngine({
    awaitSideEffects: true,
    store: env.store,
    xdr,
    notifier: new RecordingNotifier(),
    clock: new FakeClock('2022-03-01T12:00:00Z'),
    logger: silentLogger,
    config: {
      rejectedIsClosed: true,
      ladder: 'eq 2 -> notify; gte 3 -> mention; gte 5 -> respond',
      oncall: [],
      responseActions: ['block'],
      dryRun: true,
      coalesceMs: 0,
      statusSyncSeconds: 300,
      xdrSeverity: '1 -> Low; 2 -> Medium; mention -> High; respond -> Critical',
    },
    timers: new ManualTimers(),
  });
}

const ours = () => emu.state.incident.filter((i) => i.source === 'sightline');
const count = (i: Record<string, unknown>) => (i.meta as { sighting_count: number }).sighting_count;

/** What an analyst sees in XDR after the scenario, minus ids and times: must not depend on the API. */
async function scenario(api: IncidentApi) {
  const engine = engineFor(api);
  // desktop: 5 sightings (reaches the respond rung), one carrying MITRE ids; heimdallr: 1; then heimdallr is held.
  for (let i = 0; i < 4; i++) await engine.ingest([sighting('DESKTOP-1', { source: i === 0 ? 'Umbrella' : 'AMP for Endpoints' })]);
  await engine.ingest([{ ...sighting('DESKTOP-1'), ctim: { observed_time: { start_time: '2022-03-01T10:00:30.000Z' }, tactics: ['TA0011', 'bogus'], techniques: ['t1071.001'] } }]);
  await engine.ingest([sighting('heimdallr')]);
  const held = Object.values(engine.state().incidents).find((i) => i.targetValue === 'heimdallr')!;
  const desk = Object.values(engine.state().incidents).find((i) => i.targetValue === 'desktop-1')!;
  emu.setIncidentStatus(held.xdrId!, 'Hold: External');
  emu.setIncidentStatus(desk.xdrId!, 'Closed: Confirmed Threat');
  const synced = await engine.syncStatuses();
  // Held is not closed: the next sighting counts on the same incident; desktop's next one opens a new, related incident.
  await engine.ingest([sighting('heimdallr')]);
  await engine.ingest([sighting('DESKTOP-1')]);
  await engine.syncPending();
  const byTitle = ours(); // in creation order
  const related = emu.state.relationship.filter((r) => r.relationship_type === 'related-to');
  return {
    synced,
    local: Object.values(engine.state().incidents).map((i) => [i.targetValue, i.count, i.status]),
    xdr: byTitle.map((i) => ({
      title: i.title,
      count: count(i),
      status: i.status,
      severity: i.severity,
      scores: i.scores,
      promotion_method: i.promotion_method,
      detection_sources: i.detection_sources,
      tactics: i.tactics,
      techniques: i.techniques,
    })),
    memberOf: emu.state.relationship.filter((r) => r.relationship_type === 'member-of').length,
    relatedTo: related.map((r) => [byTitle.findIndex((i) => i.id === r.source_ref), byTitle.findIndex((i) => i.id === r.target_ref)]),
    enrichment: byTitle.map((i) => i.enrichment_status),
    incidentCalls: [...new Set(emu.calls.filter((c) => /incident/.test(c.path)).map((c) => c.path.replace(/incident-[0-9a-f-]{36}/, '{id}')))].sort(),
  };
}

describe('XDR_INCIDENT_API parity (correlator against the emulator)', () => {
  it('gives the same incidents, counts, links and status handling on private-intel and ctia', async () => {
    const viaIroh = await scenario('private-intel');
    await env.store.close();
    await env.cleanup();
    emu.reset();
    resetSeq();
    env = await tempStore();
    const viaCtia = await scenario('ctia');

    const { enrichment: e1, incidentCalls: c1, ...iroh } = viaIroh;
    const { enrichment: e2, incidentCalls: c2, ...ctia } = viaCtia;
    expect(iroh).toEqual(ctia);

    // One incident per target; held heimdallr kept counting (2) and keeps its XDR status; desktop reopened after the close.
    expect(iroh.synced).toEqual({ checked: 2, closed: 1 });
    expect(iroh.local).toEqual([
      ['desktop-1', 5, 'Closed: Confirmed Threat'],
      ['heimdallr', 2, 'Hold: External'],
      ['desktop-1', 1, 'New'],
    ]);
    expect(iroh.xdr.map((i) => [i.count, i.status, i.severity])).toEqual([
      [5, 'Closed: Confirmed Threat', 'Critical'],
      [2, 'Hold: External', 'Medium'],
      [1, 'New', 'Low'],
    ]);
    expect(iroh.xdr[0]).toMatchObject({
      scores: { ttp: 90, global: 98 },
      promotion_method: 'Automated',
      detection_sources: ['Umbrella', 'AMP for Endpoints'],
      tactics: ['TA0011'],
      techniques: ['T1071.001'],
    });
    expect(iroh.xdr[2]).toMatchObject({ scores: { ttp: 30, global: 30 }, tactics: undefined });
    expect(iroh.memberOf).toBe(8);
    expect(iroh.relatedTo).toEqual([[0, 2]]);

    // Only the private-intel path gets XDR's enrichment, and each setting used its own incident paths.
    expect(e1.every((s) => s === 'queued' || s === 'enriched')).toBe(true);
    expect(e2).toEqual([undefined, undefined, undefined]);
    expect(c1.every((p) => p.startsWith('/iroh/private-intel/incident'))).toBe(true);
    expect(c2.every((p) => p.startsWith('/ctia/incident'))).toBe(true);
  });
});
