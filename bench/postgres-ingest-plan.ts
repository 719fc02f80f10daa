import type { TargetCheck } from './report.js';
import { fmt, mb, median } from './stats.js';

/**
 * What the PostgreSQL ingest bench measures and how it judges it (pure: unit-tested in
 * test/bench/postgres-ingest-plan.test.ts). The goal: ≥ 1,500 sightings/s with p99 ≤ 50 ms,
 * one instance and two, at 10k/100k and 100k/1M incidents/sightings; cost per sighting flat with
 * store size; RSS per instance ≤ 200 MB whatever the history size.
 */
export interface PgStoreSize {
  incidents: number;
  /** Sightings in the history (10 per incident, as the lowdb bench). */
  sightings: number;
}

export interface PgIngestPlan {
  sizes: PgStoreSize[];
  instanceCounts: number[];
  /** Connections per instance. */
  connections: number;
  warmupMs: number;
  runMs: number;
  /** Timed windows per row, back to back on the same processes; the row is their median (see `combineWindows`). */
  windows: number;
  /** Open incidents in the preloaded store (the rest closed: history); the load goes to the first 1,000. */
  openIncidents: number;
}

export const TARGET_RATE = 1_500;
export const TARGET_P99_MS = 50;
export const TARGET_RSS_BYTES = 200 * 1024 * 1024;
/** "Flat": the biggest store's CPU per sighting within this factor of the smallest's. */
export const FLAT_FACTOR = 1.5;

export function pgIngestPlan(opts: { quick: boolean; sizes?: number[] }): PgIngestPlan {
  const sizes = opts.sizes?.map((n) => ({ incidents: n, sightings: n * 10 })) ?? (opts.quick ? [{ incidents: 200, sightings: 2_000 }] : [{ incidents: 10_000, sightings: 100_000 }, { incidents: 100_000, sightings: 1_000_000 }]);
  return {
    sizes,
    instanceCounts: [1, 2],
    connections: opts.quick ? 4 : 16,
    warmupMs: opts.quick ? 500 : 3_000,
    runMs: opts.quick ? 2_000 : 20_000,
    windows: opts.quick ? 1 : 3,
    openIncidents: Math.min(2_000, ...sizes.map((s) => s.incidents)),
  };
}

export interface PgRunRow {
  size: PgStoreSize;
  instances: number;
  accepted: number;
  sent: number;
  rate: number;
  p50: number;
  p99: number;
  /** Sightline's CPU (all instances) per accepted sighting, µs. */
  cpuUsPerSighting: number;
  /** PostgreSQL's CPU (all its processes) per accepted sighting, µs; undefined when it could not be read. */
  pgCpuUsPerSighting?: number;
  /** Peak RSS of each instance during the run. */
  peakRssBytes: number[];
  /** Time after the run until every accepted sighting was applied to an incident. */
  drainMs: number | undefined;
  failures: Record<string, number>;
  /** Throughput of each timed window, when the row combines several. */
  windowRates?: number[];
  /** The load generator's own event-loop delay (ms): late answers it counted that were its own wait. */
  generatorDelayMs?: { p99: number; max: number };
}

/**
 * One row from a configuration's timed windows, as the lowdb ingest bench reports its three runs:
 * throughput, p50, p99 and the CPU figures are each the windows' median (a neighbour's burst on this
 * shared machine moves one window, not the row); accepted, sent and failures are summed; peak RSS
 * and drain are the worst window's (the targets are limits).
 */
export function combineWindows(windows: readonly PgRunRow[]): PgRunRow {
  const first = windows[0];
  if (!first) throw new Error('combineWindows: no window');
  const med = (f: (r: PgRunRow) => number | undefined): number | undefined => {
    const vs = windows.map(f).filter((v): v is number => v !== undefined && Number.isFinite(v));
    return vs.length === windows.length ? median(vs) : undefined;
  };
  const failures: Record<string, number> = {};
  for (const w of windows) for (const [k, v] of Object.entries(w.failures)) failures[k] = (failures[k] ?? 0) + v;
  const pgCpu = med((r) => r.pgCpuUsPerSighting);
  const drains = windows.map((w) => w.drainMs);
  return {
    size: first.size,
    instances: first.instances,
    accepted: windows.reduce((a, w) => a + w.accepted, 0),
    sent: windows.reduce((a, w) => a + w.sent, 0),
    rate: med((r) => r.rate)!,
    p50: med((r) => r.p50)!,
    p99: med((r) => r.p99)!,
    cpuUsPerSighting: med((r) => r.cpuUsPerSighting) ?? Number.NaN,
    ...(pgCpu !== undefined ? { pgCpuUsPerSighting: pgCpu } : {}),
    peakRssBytes: first.peakRssBytes.map((_, i) => Math.max(...windows.map((w) => w.peakRssBytes[i] ?? 0))),
    drainMs: drains.some((d) => d === undefined) ? undefined : Math.max(...(drains as number[])),
    failures,
    ...(windows.length > 1 ? { windowRates: windows.map((w) => w.rate) } : {}),
    ...(windows.every((w) => w.generatorDelayMs)
      ? { generatorDelayMs: { p99: median(windows.map((w) => w.generatorDelayMs!.p99)), max: Math.max(...windows.map((w) => w.generatorDelayMs!.max)) } }
      : {}),
  };
}

/** The targets over the rows of one bench run. */
export function pgIngestTargets(rows: readonly PgRunRow[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  for (const r of rows) {
    const label = `${fmt(r.size.incidents)}/${fmt(r.size.sightings)}, ${r.instances} instance${r.instances > 1 ? 's' : ''}`;
    out.push({ what: `throughput (${label})`, target: `≥ ${fmt(TARGET_RATE)} sightings/s`, measured: `${fmt(r.rate)}/s`, met: r.rate >= TARGET_RATE });
    out.push({ what: `p99 latency (${label})`, target: `≤ ${TARGET_P99_MS} ms`, measured: `${fmt(r.p99, 1)} ms`, met: r.p99 <= TARGET_P99_MS });
    const peak = Math.max(0, ...r.peakRssBytes);
    out.push({ what: `RSS per instance (${label})`, target: `≤ ${mb(TARGET_RSS_BYTES)}`, measured: r.peakRssBytes.map(mb).join(', '), met: peak > 0 && peak <= TARGET_RSS_BYTES });
  }
  for (const n of new Set(rows.map((r) => r.instances))) {
    const bySize = rows.filter((r) => r.instances === n).sort((a, b) => a.size.sightings - b.size.sightings);
    if (bySize.length < 2) continue;
    const small = bySize[0]!;
    const big = bySize.at(-1)!;
    const cost = (r: PgRunRow) => r.cpuUsPerSighting + (r.pgCpuUsPerSighting ?? 0);
    const ratio = cost(big) / cost(small);
    out.push({
      what: `cost per sighting flat with store size (${n} instance${n > 1 ? 's' : ''}, Sightline + PostgreSQL CPU)`,
      target: `${fmt(big.size.sightings)} within ×${FLAT_FACTOR} of ${fmt(small.size.sightings)}`,
      measured: `${fmt(cost(small))} → ${fmt(cost(big))} µs (×${fmt(ratio, 2)})`,
      met: Number.isFinite(ratio) && ratio <= FLAT_FACTOR,
    });
  }
  return out;
}

/** Clock ticks → µs from /proc/<pid>/stat's utime + stime (fields 14 and 15; the name in () may hold spaces). */
export function cpuTicksOfStat(stat: string, opts: { reapedChildren?: boolean } = {}): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): utime is field 14 → rest[11], stime field 15 → rest[12]; the CPU of
  // children that exited and were waited for, cutime and cstime, fields 16 and 17 → rest[13], rest[14].
  const own = Number(rest[11]) + Number(rest[12]);
  return opts.reapedChildren ? own + Number(rest[13]) + Number(rest[14]) : own;
}
