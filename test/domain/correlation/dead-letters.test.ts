import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { Config } from '../../../src/config/load.js';
import { markdownReplies } from '../../../src/bot/commands/replies.js';
import { CorrelationEngine } from '../../../src/domain/correlation/engine.js';
import { deadLetterSummary } from '../../../src/domain/correlation/dead-letters.js';
import { FakeXdr, ManualTimers, RecordingNotifier, quietCorrelationConfig, resetSeq, sighting, tempStore } from './helpers.js';

const config = quietCorrelationConfig({ coalesceMs: 0, statusSyncSeconds: 0 });

let env: Awaited<ReturnType<typeof tempStore>>;
let xdr: FakeXdr;

function engine(extra: Partial<Config['correlation']> = {}): CorrelationEngine {
  let n = 0;
  return new CorrelationEngine({
    awaitSideEffects: true,
    store: env.store,
    xdr,
    notifier: new RecordingNotifier(),
    clock: new FakeClock('2022-03-01T12:00:00Z'),
    logger: silentLogger,
    config: { ...config, ...extra },
    incidentUrlTemplate: 'https://x/{shortId}',
    webhookPoster: async () => undefined,
    timers: new ManualTimers(),
    newId: () => `inc-${++n}`,
  });
}

beforeEach(async () => {
  env = await tempStore();
  xdr = new FakeXdr();
  resetSeq();
});
afterEach(async () => {
  await env.store.close();
  await env.cleanup();
});

describe('XDR dead letters (issue 17 item 12)', () => {
  it('keeps an op XDR refuses for good, with its reason, and shows it in hunt status', async () => {
    xdr.fault = (call) => (call === 'createSighting' ? 400 : undefined);
    const e = engine();
    await e.ingest([sighting('heimdallr')]);
    await e.syncPending();
    await e.syncPending();
    const inc = Object.values(e.state().incidents)[0]!;
    expect(inc.xdrSync.pending.filter((o) => o.kind === 'sighting')).toEqual([]);
    expect(inc.xdrSync.dropped).toBe(1);
    expect(inc.xdrSync.deadLetters).toEqual([
      expect.objectContaining({ kind: 'sighting', seq: 1, reason: 'XDR answered 400.', attempts: 3, at: '2022-03-01T12:00:00.000Z' }),
    ]);
    const summary = deadLetterSummary(e.state());
    expect(summary).toMatchObject({ total: 1, latest: [{ incidentId: inc.id, target: 'heimdallr', kind: 'sighting' }] });
    const reply = markdownReplies.huntStatus({ xdrDeadLetters: summary }).markdown;
    expect(reply).toMatch(/XDR refused for good: 1 change kept as dead letters \(newest: sighting of incident inc-1 on heimdallr/);
  });

  it('says nothing about dead letters when there are none', () => {
    expect(markdownReplies.huntStatus({ xdrDeadLetters: { total: 0, latest: [] } }).markdown).not.toMatch(/refused/);
  });

  it('mirrors the newest XDR_MIRROR_NEWEST_SIGHTINGS sightings per incident, counting the rest', async () => {
    xdr.down = true;
    const e = engine({ mirrorNewestSightings: 5 });
    for (let i = 0; i < 12; i++) await e.ingest([sighting('busy')]);
    const inc = Object.values(e.state().incidents)[0]!;
    const waiting = inc.xdrSync.pending.filter((o) => o.kind === 'sighting');
    expect(waiting.map((o) => (o.kind === 'sighting' ? o.seq : 0))).toEqual([8, 9, 10, 11, 12]);
    expect(inc.xdrSync.unmirrored).toBe(7);
  });
});
