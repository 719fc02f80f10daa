import { describe, expect, it } from 'vitest';
import { cloneTemplate, pgHostOf } from '../../bench/postgres-ingest.js';
import { combineWindows, cpuTicksOfStat, pgIngestPlan, pgIngestTargets, TARGET_RSS_BYTES, type PgRunRow } from '../../bench/postgres-ingest-plan.js';
import { upsertBenchSection } from '../../bench/report.js';
import { parseLadder } from '../../src/domain/correlation/ladder.js';
import { PostgresCorrelationStore } from '../../src/store/postgres/correlation.js';
import { PostgresSightingsLog } from '../../src/store/postgres/sightings-log.js';
import { testPostgres, useMigratedDatabase } from '../support/postgres.js';
import { hostSighting } from '../store/postgres/fixtures.js';

const server = await testPostgres();

describe('postgres-ingest plan and targets', () => {
  it('measures the issue’s sizes, one and two instances; --quick is tiny', () => {
    expect(pgIngestPlan({ quick: false }).sizes).toEqual([
      { incidents: 10_000, sightings: 100_000 },
      { incidents: 100_000, sightings: 1_000_000 },
    ]);
    expect(pgIngestPlan({ quick: false }).instanceCounts).toEqual([1, 2]);
    expect(pgIngestPlan({ quick: true }).sizes[0]!.incidents).toBeLessThanOrEqual(1_000);
    expect(pgIngestPlan({ quick: false, sizes: [500] }).sizes).toEqual([{ incidents: 500, sightings: 5_000 }]);
  });

  const row = (over: Partial<PgRunRow>): PgRunRow => ({
    size: { incidents: 10_000, sightings: 100_000 },
    instances: 1,
    accepted: 30_000,
    sent: 30_000,
    rate: 1_600,
    p50: 8,
    p99: 40,
    cpuUsPerSighting: 300,
    pgCpuUsPerSighting: 200,
    peakRssBytes: [150 * 1024 * 1024],
    drainMs: 100,
    failures: {},
    ...over,
  });

  it('meets the targets only at ≥ 1,500/s, p99 ≤ 50 ms and RSS ≤ 200 MB per instance', () => {
    expect(pgIngestTargets([row({})]).every((t) => t.met)).toBe(true);
    const bad = pgIngestTargets([row({ rate: 1_400, p99: 51, peakRssBytes: [100, TARGET_RSS_BYTES + 1] })]);
    expect(bad.filter((t) => !t.met).map((t) => t.what.split(' (')[0])).toEqual(['throughput', 'p99 latency', 'RSS per instance']);
  });

  it('judges cost per sighting flat from the smallest to the biggest store, per instance count', () => {
    const big = { incidents: 100_000, sightings: 1_000_000 };
    const flat = pgIngestTargets([row({}), row({ size: big, cpuUsPerSighting: 330, pgCpuUsPerSighting: 250 })]).find((t) => t.what.startsWith('cost'));
    expect(flat?.met).toBe(true);
    const grows = pgIngestTargets([row({}), row({ size: big, cpuUsPerSighting: 600, pgCpuUsPerSighting: 400 })]).find((t) => t.what.startsWith('cost'));
    expect(grows?.met).toBe(false);
    expect(grows?.measured).toMatch(/500 → 1,000 µs \(×2(\.00)?\)/);
  });

  it('makes a row of its timed windows: the median of each rate and latency, the sums of counts, the worst RSS and drain', () => {
    expect(pgIngestPlan({ quick: false }).windows).toBe(3);
    expect(pgIngestPlan({ quick: true }).windows).toBe(1);
    const combined = combineWindows([
      row({ rate: 1_600, p50: 8, p99: 40, cpuUsPerSighting: 300, accepted: 32_000, peakRssBytes: [150, 170], drainMs: 100, failures: { timeout: 1 }, generatorDelayMs: { p99: 6, max: 30 } }),
      row({ rate: 900, p50: 20, p99: 90, cpuUsPerSighting: 700, accepted: 18_000, peakRssBytes: [180, 160], drainMs: 400, generatorDelayMs: { p99: 15, max: 120 } }),
      row({ rate: 1_500, p50: 9, p99: 45, cpuUsPerSighting: 320, accepted: 30_000, peakRssBytes: [155, 165], drainMs: 200, failures: { timeout: 2 }, generatorDelayMs: { p99: 7, max: 40 } }),
    ]);
    expect(combined).toMatchObject({ rate: 1_500, p50: 9, p99: 45, cpuUsPerSighting: 320, pgCpuUsPerSighting: 200, accepted: 80_000, peakRssBytes: [180, 170], drainMs: 400, failures: { timeout: 3 }, windowRates: [1_600, 900, 1_500], generatorDelayMs: { p99: 7, max: 120 } });
    // A window that never drained leaves the row undrained; one window is the row itself.
    expect(combineWindows([row({}), row({ drainMs: undefined })]).drainMs).toBeUndefined();
    expect(combineWindows([row({ rate: 1_234 })])).toEqual(row({ rate: 1_234 }));
  });

  it('reads utime + stime from /proc/<pid>/stat, whatever the process name holds', () => {
    const stat = '1234 (node (worker) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 11 0 123 456 789';
    expect(cpuTicksOfStat(stat)).toBe(325);
    // The postmaster's figure adds its exited children's (cutime + cstime).
    const postmaster = '99 (postgres) S 1 99 99 0 -1 4194560 100 0 0 0 250 75 40 8 20 0 11 0 123 456 789';
    expect(cpuTicksOfStat(postmaster, { reapedChildren: true })).toBe(373);
  });

  it('replaces its section of BENCHMARKS.md, or appends it the first time', () => {
    const result = { name: 'postgres-ingest', title: 'PG', markdown: 'figures v1', targets: [] };
    const doc = '# Benchmarks\n\n## Other\n\nkeep\n';
    const once = upsertBenchSection(doc, result, 'alone');
    expect(once).toContain('## Other\n\nkeep');
    expect(once).toContain('## PG');
    const twice = upsertBenchSection(`${once}\n## Later\n\nx\n`, { ...result, markdown: 'figures v2' }, 'alone');
    expect(twice.match(/## PG/g)).toHaveLength(1);
    expect(twice).toContain('figures v2');
    expect(twice).not.toContain('figures v1');
    expect(twice).toContain('## Later');
  });
});

describe.skipIf(!server)('postgres-ingest preload (clones of a template incident, by SQL)', () => {
  const db = useMigratedDatabase(server!);
  const opts = { rungs: parseLadder('eq 2 -> notify'), rejectedIsClosed: true, dryRun: true };

  it('makes n incidents the store reads and counts into like any other: the first `open` open, the rest closed', async () => {
    const log = new PostgresSightingsLog(db.pool);
    const store = new PostgresCorrelationStore(db.pool, log, opts);
    await log.append(Array.from({ length: 10 }, (_, k) => hostSighting(`tpl-${k}`, 'bench-template-host', { observedAt: `2026-11-30T10:0${k}:00.000Z` })));
    while ((await store.applyNext(50)).claimed > 0);
    const tpl = (await db.pool.query<{ id: string; target_key: string }>(`SELECT id, target_key FROM incidents WHERE target_value = 'bench-template-host'`)).rows[0]!;

    await cloneTemplate(db.pool, tpl, 50, 20, 10);

    const n = async (sql: string) => Number((await db.pool.query<{ n: string }>(sql)).rows[0]!.n);
    expect(await n(`SELECT count(*) AS n FROM incidents WHERE id LIKE 'inc-bench-%'`)).toBe(50);
    expect(await n(`SELECT count(*) AS n FROM incidents WHERE id LIKE 'inc-bench-%' AND closed_at IS NULL`)).toBe(20);
    expect(await n(`SELECT count(*) AS n FROM incident_sightings WHERE incident_id LIKE 'inc-bench-%'`)).toBe(500);
    expect(await n(`SELECT count(*) AS n FROM sightings WHERE id LIKE 'bench-pre-%' AND applied_at IS NOT NULL`)).toBe(500);

    const open = await store.incidentByTarget({ type: 'endpoint', observables: [{ type: 'hostname', value: pgHostOf(3) }] });
    expect(open?.id).toBe('inc-bench-3');
    expect(open?.count).toBe(10);
    // A new sighting on a cloned open host counts into the clone, not a new incident.
    await log.append([hostSighting('after-preload', pgHostOf(3))]);
    while ((await store.applyNext(50)).claimed > 0);
    expect((await store.incident('inc-bench-3'))?.count).toBe(11);
    // On a closed clone's host it opens a new incident (the closed one is history).
    await log.append([hostSighting('after-closed', pgHostOf(30))]);
    while ((await store.applyNext(50)).claimed > 0);
    expect((await store.incident('inc-bench-30'))?.count).toBe(10);
    expect(await n(`SELECT count(*) AS n FROM incidents WHERE target_value = '${pgHostOf(30)}'`)).toBe(2);
  });
});
