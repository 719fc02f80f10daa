import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../src/sandbox/free-port.js';
import { SightlineInstance, type LogLine } from '../src/sandbox/instance.js';
import { startThrowawayCluster, type ThrowawayCluster } from '../src/sandbox/postgres-cluster.js';
import { assertRunningOnPostgres } from '../src/sandbox/postgres-sandbox.js';
import { SANDBOX_SIGHTINGS_SECRET, startWorld, type EmulatedWorld } from '../src/sandbox/world.js';
import { rssSampler } from './ingest.js';
import { runLoad, type LoadResult } from './load.js';
import { combineWindows, cpuTicksOfStat, pgIngestPlan, pgIngestTargets, type PgIngestPlan, type PgRunRow, type PgStoreSize } from './postgres-ingest-plan.js';
import { table, type BenchResult } from './report.js';
import { startNodeFlags } from './start-flags.js';
import { fmt, mb, percentile } from './stats.js';

/**
 * Bench `postgres-ingest`: sightings over loopback HTTP to the real process
 * (`node --import tsx src/main.ts` with DATABASE_URL) on a throwaway PostgreSQL cluster with
 * fsync ON (a 202 costs a durable commit, as in production), on the same 2 cores. One instance,
 * then two on the same database (the same 16 connections split between them), at each store size.
 * The store is preloaded with SQL, not HTTP: one template incident is made through the app
 * (10 sightings over HTTP), then cloned N times with generate_series — incidents (the first 2,000
 * open, the rest closed: history), their incident_sightings rows, and applied `sightings` rows.
 */
export const PG_INGEST_TITLE = 'Ingest on PostgreSQL (one and two instances)';
const TEMPLATE_HOST = 'bench-template-host';
const CLK_TCK_US = 10_000; // Linux USER_HZ = 100
/** Warnings and errors the instances logged since the last run's print (BENCH_PG_STATEMENTS=1). */
const warnings = new Map<string, number>();

export function pgHostOf(i: number): string {
  return `bench-host-${String(i).padStart(7, '0')}`;
}

/** `entry`: another entry than src/main.ts (e.g. dist/main.js after `npm run build`). */
export async function benchPostgresIngest(o: { quick: boolean; sizes?: number[]; only?: string; entry?: { file: string; nodeArgs: string[] } }): Promise<BenchResult> {
  if (o.quick && o.only !== 'postgres-ingest') {
    // A cluster, two app starts and the runs take ~30 s even tiny: more than CI's quick bench should pay.
    return { name: 'postgres-ingest', title: PG_INGEST_TITLE, markdown: 'Not in `--quick` (about 30 s even at tiny sizes); `npm run bench -- --only postgres-ingest --quick` runs a tiny version.', targets: [] };
  }
  const plan = pgIngestPlan(o);
  const rows: PgRunRow[] = [];
  const notes: string[] = [];
  let cluster: ThrowawayCluster | undefined;
  let world: EmulatedWorld | undefined;
  try {
    // `BENCH_PG_FSYNC=off npm run bench -- --only postgres-ingest` measures what PostgreSQL's fsync per commit costs.
    cluster = await startThrowawayCluster({ durable: durable(), statements: statementsWanted() });
    world = await startWorld();
    for (const size of plan.sizes) rows.push(...(await measureSize(cluster, world, size, plan, notes, o.entry)));
  } catch (err) {
    notes.push(`**The bench did not complete:** ${(err as Error).message}`);
  } finally {
    await world?.stop();
    await cluster?.stop();
  }
  const targets = pgIngestTargets(rows);
  if (rows.length === 0) targets.push({ what: 'the PostgreSQL ingest bench ran', target: 'yes', measured: 'no (see above)', met: false });
  return { name: 'postgres-ingest', title: PG_INGEST_TITLE, markdown: render(rows, plan, notes), targets };
}

async function measureSize(cluster: ThrowawayCluster, world: EmulatedWorld, size: PgStoreSize, plan: PgIngestPlan, notes: string[], entry?: { file: string; nodeArgs: string[] }): Promise<PgRunRow[]> {
  const dbName = `bench_${size.incidents}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: cluster.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const url = new URL(cluster.url);
  url.pathname = `/${dbName}`;
  const dbUrl = url.toString();
  const stateDir = await mkdtemp(path.join(tmpdir(), 'sightline-bench-pg-'));
  const ports = [await freePort(), await freePort()];
  const instances = ports.map((port, i) => {
    const env = world.env({
      LOG_LEVEL: 'info',
      DATABASE_URL: dbUrl,
      HTTP_PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      STATE_FILE: path.join(stateDir, `instance-${i}.json`),
      HTTP_RATE_LIMIT_PER_MINUTE: '1000000',
      CORRELATION_COALESCE_MS: '5000',
    });
    // `BENCH_PG_CPU_PROF=<dir>`: each instance writes a V8 CPU profile there when it stops (for ranking, not timing).
    const prof = process.env.BENCH_PG_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_PG_CPU_PROF)}`] : [];
    // With `BENCH_PG_STATEMENTS=1`, the instances' warnings and errors are counted by message and printed after each run.
    const onLog = statementsWanted() ? (line: LogLine) => void ((line.level ?? 0) >= 40 && warnings.set(`${'ab'[i]} ${line.msg ?? '?'}`, (warnings.get(`${'ab'[i]} ${line.msg ?? '?'}`) ?? 0) + 1)) : undefined;
    return new SightlineInstance({ name: `instance-${'ab'[i]}`, url: `http://127.0.0.1:${port}`, env, nodeFlags: [...startNodeFlags(env), ...prof], ...(entry ? { entry } : {}), ...(onLog ? { onLog } : {}) });
  });
  const pool = new pg.Pool({ connectionString: dbUrl, max: 2, application_name: 'bench' });
  try {
    await instances[0]!.start(120_000);
    await assertRunningOnPostgres(dbUrl, [instances[0]!]);
    const t0 = performance.now();
    await preload(pool, instances[0]!.url, size, plan.openIncidents, world);
    notes.push(`${fmt(size.incidents)}/${fmt(size.sightings)}: preloaded with SQL in ${fmt((performance.now() - t0) / 1000, 1)} s.`);
    const out: PgRunRow[] = [];
    for (const n of plan.instanceCounts) {
      for (const inst of instances.slice(0, n)) if (!inst.running) await inst.start(120_000);
      out.push(await measure(pool, cluster, instances.slice(0, n), size, plan, `s${size.incidents}-n${n}`));
    }
    return out;
  } finally {
    await Promise.all(instances.map((i) => i.stop('SIGTERM')));
    await pool.end();
    await rm(stateDir, { recursive: true, force: true });
  }
}

/** One template incident through the app, then N clones by SQL. */
async function preload(pool: pg.Pool, instanceUrl: string, size: PgStoreSize, open: number, world: EmulatedWorld): Promise<void> {
  const perIncident = Math.max(1, Math.round(size.sightings / size.incidents));
  const template = await runLoad({ url: instanceUrl, secret: SANDBOX_SIGHTINGS_SECRET, hosts: [TEMPLATE_HOST], connections: 1, durationMs: 30_000, maxRequests: perIncident, runId: 'template' });
  if (template.accepted !== perIncident) throw new Error(`The template sightings were not accepted (${template.accepted} of ${perIncident}; ${template.firstFailure ?? 'no answer'}).`);
  const tpl = await waitFor(async () => {
    const { rows } = await pool.query<{ id: string; target_key: string; count: string }>(`SELECT id, target_key, count FROM incidents WHERE target_value = $1`, [TEMPLATE_HOST]);
    return rows[0] && Number(rows[0].count) === perIncident ? rows[0] : undefined;
  }, 60_000, 'the template incident to count its sightings');
  await cloneTemplate(pool, tpl, size.incidents, open, perIncident);
  // The open clones' XDR incidents, as the template's: their patches and links then succeed as in XDR.
  const mirrored = await waitFor(async () => world.xdr.state.incident[0], 60_000, 'the template incident to reach XDR');
  world.xdr.seedIncidents(Array.from({ length: open }, (_, g) => `incident-bench-${g}`), mirrored);
}

async function measure(pool: pg.Pool, cluster: ThrowawayCluster, instances: SightlineInstance[], size: PgStoreSize, plan: PgIngestPlan, runId: string): Promise<PgRunRow> {
  const hosts = Array.from({ length: Math.min(1_000, plan.openIncidents) }, (_, i) => pgHostOf(i));
  const perInstance = Math.max(1, Math.floor(plan.connections / instances.length));
  const loadAll = (id: string, durationMs: number): Promise<LoadResult[]> =>
    Promise.all(instances.map((inst, i) => runLoad({ url: inst.url, secret: SANDBOX_SIGHTINGS_SECRET, hosts, connections: perInstance, durationMs, maxRequests: 10_000_000, runId: `${id}-${i}` })));
  await loadAll(`${runId}-warmup`, plan.warmupMs);
  await drain(pool, 60_000);
  const windows: PgRunRow[] = [];
  for (let w = 0; w < plan.windows; w++) windows.push(await measureWindow(pool, cluster, instances, size, plan.windows > 1 ? `${runId}-w${w + 1}` : runId, (id) => loadAll(id, plan.runMs)));
  return combineWindows(windows);
}

/** One timed window of the closed-loop load, and the drain after it. */
async function measureWindow(pool: pg.Pool, cluster: ThrowawayCluster, instances: SightlineInstance[], size: PgStoreSize, runId: string, load: (id: string) => Promise<LoadResult[]>): Promise<PgRunRow> {
  // Each window starts where autovacuum would have left the last one's dead rows in a database that
  // runs for longer than a bench: removed. Its first visit comes a minute (autovacuum_naptime) after
  // a window began, so the two-instance window started over the one-instance window's ~50,000 dead
  // row versions (incidents, sightings, XDR ops). Two A/B runs showed no difference beyond the noise;
  // this keeps the windows alike all the same.
  await pool.query('VACUUM (ANALYZE)');
  const postmaster = await postmasterPid(cluster.dataDir);
  const cpu0 = instances.map((i) => procTicks(i.pid));
  const pg0 = postmaster ? pgTicks(postmaster) : undefined;
  const samplers = instances.map((i) => rssSampler(i.pid!));
  if (statementsWanted()) await pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements').then(() => pool.query('SELECT pg_stat_statements_reset()'));
  const waits = statementsWanted() ? waitSampler(pool) : undefined;
  const results = await load(runId);
  if (waits) process.stderr.write(`\n[${runId}] ${await waits.stop()}`);
  if (statementsWanted()) await printStatements(pool, runId);
  if (statementsWanted()) {
    process.stderr.write(`[${runId}] warnings and errors logged (instance, message: count): ${[...warnings].map(([k, v]) => `${k}: ${v}`).join('; ') || 'none'}\n`);
    warnings.clear();
  }
  const cpu1 = instances.map((i) => procTicks(i.pid));
  const pg1 = postmaster ? pgTicks(postmaster) : undefined;
  const peakRssBytes = samplers.map((s) => s.stop());
  const t0 = performance.now();
  const drained = await drain(pool, 120_000);
  const accepted = results.reduce((a, r) => a + r.accepted, 0);
  const elapsed = Math.max(...results.map((r) => r.elapsedMs));
  const latencies = results.flatMap((r) => r.latenciesMs);
  const failures: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v;
  const sightlineTicks = cpu1.reduce((a, t, i) => a + t - cpu0[i]!, 0);
  return {
    size,
    instances: instances.length,
    accepted,
    sent: results.reduce((a, r) => a + r.sent, 0),
    rate: accepted / (elapsed / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuUsPerSighting: accepted ? (sightlineTicks * CLK_TCK_US) / accepted : Number.NaN,
    ...(pg0 !== undefined && pg1 !== undefined && accepted ? { pgCpuUsPerSighting: ((pg1 - pg0) * CLK_TCK_US) / accepted } : {}),
    peakRssBytes,
    drainMs: drained ? performance.now() - t0 : undefined,
    failures,
    generatorDelayMs: { p99: Math.max(...results.map((r) => r.loopDelayP99Ms)), max: Math.max(...results.map((r) => r.loopDelayMaxMs)) },
  };
}

/** Until every accepted sighting is applied; false after `timeoutMs`. */
async function drain(pool: pg.Pool, timeoutMs: number): Promise<boolean> {
  return waitFor(async () => ((await pool.query<{ n: string }>('SELECT count(*) AS n FROM sightings WHERE applied_at IS NULL')).rows[0]!.n === '0' ? true : undefined), timeoutMs, 'the backlog to drain').catch(() => false);
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}


/**
 * `n` clones of the template incident (ids inc-bench-<g>, hosts bench-host-<g>; the first `open`
 * open, the rest closed), with `perIncident` incident_sightings rows each and as many applied
 * `sightings` rows (copies of the first `perIncident` in the log). Columns it does not know are
 * copied from the template, so a later migration's column keeps the template's value.
 */
export async function cloneTemplate(pool: pg.Pool, tpl: { id: string; target_key: string; target_value?: string }, n: number, open: number, perIncident: number): Promise<void> {
  const templateHost = tpl.target_value ?? TEMPLATE_HOST;
  if (!tpl.target_key.includes(templateHost)) throw new Error(`The target key "${tpl.target_key}" does not contain the host; the preload cannot derive clones' keys.`);
  const cols = (await pool.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'incidents' ORDER BY ordinal_position`)).rows.map((r) => r.column_name);
  const host = `'bench-host-' || lpad(g::text, 7, '0')`;
  const isOpen = `g < ${open}`;
  const override: Record<string, string | null> = {
    id: `'inc-bench-' || g`,
    ordinal: null,
    target_key: `replace(t.target_key, t.target_value, ${host})`,
    target_value: host,
    status: `CASE WHEN ${isOpen} THEN t.status ELSE 'Closed' END`,
    closed_at: `CASE WHEN ${isOpen} THEN NULL ELSE t.opened_at + interval '1 day' END`,
    closed_by: `CASE WHEN ${isOpen} THEN NULL ELSE 'bench' END`,
    close_reason: 'NULL',
    previous_incident_id: 'NULL',
    // As the lowdb bench's preload (bench/prepopulate.ts): a kept incident was mirrored to XDR long
    // ago. Without an id, each clone's sighting ops would wait forever for a create that was never queued.
    xdr_id: `'https://private.intel.amp.cisco.com/ctia/incident/incident-bench-' || g`,
    card_message_id: 'NULL',
  };
  const chosen = cols.filter((c) => override[c] !== null);
  const exprs = chosen.map((c) => (c in override ? override[c]! : `t.${c}`));
  await pool.query(`INSERT INTO incidents (${chosen.join(', ')}) SELECT ${exprs.join(', ')} FROM generate_series(0, ${n - 1}) g CROSS JOIN (SELECT * FROM incidents WHERE id = $1) t`, [tpl.id]);
  await pool.query(
    `INSERT INTO incident_sightings (incident_id, seq, observed_at, ioc_type, ioc_value, source)
     SELECT 'inc-bench-' || g, 1000000000000 + g::bigint * 100 + s.rn, s.observed_at, s.ioc_type, s.ioc_value, s.source
       FROM generate_series(0, ${n - 1}) g
       CROSS JOIN (SELECT *, row_number() OVER (ORDER BY seq) AS rn FROM incident_sightings WHERE incident_id = $1) s`,
    [tpl.id],
  );
  await pool.query(
    `INSERT INTO sightings (id, item, accepted_at, applied_at)
     SELECT 'bench-pre-' || g || '-' || s.rn, s.item, now(), now()
       FROM generate_series(0, ${n - 1}) g
       CROSS JOIN (SELECT item, row_number() OVER (ORDER BY seq) AS rn FROM sightings ORDER BY seq LIMIT ${perIncident}) s`,
  );
  await pool.query('ANALYZE');
}

function procTicks(pid: number | undefined): number {
  try {
    return pid ? cpuTicksOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8')) : 0;
  } catch {
    return 0;
  }
}

async function postmasterPid(dataDir: string): Promise<number | undefined> {
  const text = await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  const pid = Number(text?.split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** The postmaster and its children (backends, WAL writer, checkpointer…): PostgreSQL's share of the cores. */
/**
 * PostgreSQL's CPU: the postmaster's, its live children's, and (cutime/cstime) that of children that
 * exited meanwhile (autovacuum workers, ended sessions): without those the sum could fall during a
 * run (a negative figure was printed once).
 */
function pgTicks(postmaster: number): number {
  let ticks = 0;
  try {
    ticks = cpuTicksOfStat(readFileSync(`/proc/${postmaster}/stat`, 'utf8'), { reapedChildren: true });
  } catch {
    // gone: counted as 0
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) ticks += cpuTicksOfStat(stat);
    } catch {
      // gone meanwhile
    }
  }
  return ticks;
}

/**
 * With `BENCH_PG_STATEMENTS=1`: what the app's sessions are doing, sampled every 50 ms during the run (pg_stat_activity of
 * this database, the bench's own session left out): which statements are active, and what the active ones wait on (a lock,
 * a WAL flush, the client). Lock waits are contention between the instances; "ClientRead" is a transaction waiting for its app.
 */
function waitSampler(pool: pg.Pool): { stop(): Promise<string> } {
  const tally = new Map<string, number>();
  const ages = new Map<string, number>();
  const holders = new Map<string, number>();
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await pool
        .query<{ w: string; q: string }>(
          `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS w, left(regexp_replace(query, '\\s+', ' ', 'g'), 70) AS q
           FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND backend_type = 'client backend'`,
        )
        .catch(() => ({ rows: [] as Array<{ w: string; q: string }> }));
      samples++;
      for (const r of rows) tally.set(`${r.w.padEnd(28)} ${r.q}`, (tally.get(`${r.w.padEnd(28)} ${r.q}`) ?? 0) + 1);
      // The oldest open transaction: while it runs, no row version that died after it began can be pruned.
      const { rows: oldest } = await pool
        .query<{ ms: number; who: string }>(
          `SELECT extract(epoch FROM now() - xact_start) * 1000 AS ms,
                  split_part(application_name, ' ', 1) || ' ' || state || ' ' || left(regexp_replace(query, '\s+', ' ', 'g'), 50) AS who
           FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
           ORDER BY xact_start LIMIT 1`,
        )
        .catch(() => ({ rows: [] as Array<{ ms: number; who: string }> }));
      const o = oldest[0];
      const bucket = !o ? 'none' : o.ms < 50 ? '< 50 ms' : o.ms < 200 ? '50–200 ms' : o.ms < 1000 ? '200–1000 ms' : '≥ 1 s';
      ages.set(bucket, (ages.get(bucket) ?? 0) + 1);
      if (o && o.ms >= 200) holders.set(o.who, (holders.get(o.who) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const top = [...tally].sort((a, b) => b[1] - a[1]).slice(0, 25);
      const held = [...holders].sort((a, b) => b[1] - a[1]).slice(0, 6);
      return (
        `active sessions in ${samples} samples (50 ms apart; wait event or CPU, statement):\n${top.map(([k, v]) => `${String(v).padStart(6)}  ${k}`).join('\n')}\n` +
        `age of the oldest open transaction: ${[...ages].map(([k, v]) => `${k} ${v}`).join(', ')}; held 200 ms or more by:\n${held.map(([k, v]) => `${String(v).padStart(6)}  ${k}`).join('\n')}\n`
      );
    },
  };
}

/** `BENCH_PG_STATEMENTS=1`: print, per run, the statements PostgreSQL spent its time on (pg_stat_statements). */
function statementsWanted(): boolean {
  return process.env.BENCH_PG_STATEMENTS === '1';
}

async function printStatements(pool: pg.Pool, runId: string): Promise<void> {
  const { rows } = await pool.query<{ ms: number; calls: string; rows: string; wal: string; q: string }>(
    `SELECT round(total_exec_time)::int AS ms, calls, rows, wal_bytes AS wal, left(regexp_replace(query, '\\s+', ' ', 'g'), 120) AS q
     FROM pg_stat_statements WHERE query NOT ILIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT 30`,
  );
  process.stderr.write(`\n[${runId}] PostgreSQL statements by total time (ms, calls, rows, WAL bytes):\n${rows.map((r) => `${String(r.ms).padStart(7)} ${r.calls.padStart(7)} ${r.rows.padStart(8)} ${r.wal.padStart(10)}  ${r.q}`).join('\n')}\n`);
  // Round trips cost the app a system call each (and, on loopback, PostgreSQL's wake-up): the totals, and the most frequent.
  const all = await pool.query<{ calls: string; ms: number; wal: string }>(
    `SELECT sum(calls)::bigint AS calls, round(sum(total_exec_time))::int AS ms, sum(wal_bytes)::bigint AS wal
     FROM pg_stat_statements WHERE query NOT ILIKE '%pg_stat_statements%'`,
  );
  const frequent = await pool.query<{ calls: string; ms: number; q: string }>(
    `SELECT calls, round(total_exec_time)::int AS ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 100) AS q
     FROM pg_stat_statements WHERE query NOT ILIKE '%pg_stat_statements%' ORDER BY calls DESC LIMIT 12`,
  );
  const t = all.rows[0]!;
  process.stderr.write(`[${runId}] all statements: ${t.calls} calls, ${t.ms} ms executing, ${t.wal} WAL bytes; most frequent (calls, ms):\n${frequent.rows.map((r) => `${r.calls.padStart(7)} ${String(r.ms).padStart(6)}  ${r.q}`).join('\n')}\n`);
  // The queue tables' row versions: dead rows left, HOT updates, and autovacuum's visits during the run.
  const tables = await pool.query<Record<string, string | number | null>>(
    `SELECT relname, n_live_tup AS live, n_dead_tup AS dead, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_hot_upd AS hot, n_tup_del AS del,
            autovacuum_count AS autovacuums, autoanalyze_count AS autoanalyzes
     FROM pg_stat_user_tables WHERE relname IN ('xdr_ops', 'outbox', 'outbox_queues', 'sightings', 'incidents') ORDER BY relname`,
  );
  process.stderr.write(`[${runId}] row versions since the cluster started:\n${tables.rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
  const waiting = await pool.query<{ kind: string; n: string }>(`SELECT payload->>'kind' AS kind, count(*) AS n FROM outbox GROUP BY 1 ORDER BY 2 DESC`);
  process.stderr.write(`[${runId}] outbox after the run: ${waiting.rows.map((r) => `${r.kind} ${r.n}`).join(', ') || 'empty'}\n`);
  // The plans of merging waiting card updates (PostgresNotifier.notifyManyIn: the lookup, then the payload UPDATE), rolled back.
  // Imported here, not at the top: the bench also runs against older code (A/B), where they do not exist.
  const { MERGE_UPDATES_SQL, WAITING_UPDATES_SQL } = (await import('../src/notify/postgres-notifier.js')) as { MERGE_UPDATES_SQL?: string; WAITING_UPDATES_SQL?: string };
  if (!MERGE_UPDATES_SQL || !WAITING_UPDATES_SQL) return;
  const merger = await pool.connect();
  try {
    await merger.query('SET jit = off');
    await merger.query('BEGIN');
    const ids = (await merger.query<{ id: string }>(`SELECT payload->'incident'->>'id' AS id FROM outbox WHERE payload->>'kind' = 'incident_updated' LIMIT 20`)).rows.map((r) => r.id);
    const lookup = await merger.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${WAITING_UPDATES_SQL}`, [ids]);
    const rows = (await merger.query<{ id: string; payload: unknown }>(`SELECT id, payload FROM outbox WHERE payload->>'kind' = 'incident_updated' AND payload->'incident'->>'id' = ANY($1::text[])`, [ids])).rows;
    const byId = Object.fromEntries(rows.map((r) => [r.id, r.payload]));
    const update = await merger.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${MERGE_UPDATES_SQL}`, [Object.keys(byId), JSON.stringify(byId)]);
    const size = await merger.query<{ rel: string; heap: string; toast: string }>(`SELECT pg_size_pretty(pg_relation_size('outbox')) AS heap, pg_size_pretty(pg_total_relation_size('outbox')) AS rel, (SELECT avg(pg_column_size(payload))::int FROM outbox)::text AS toast`);
    // Counting's UPDATE of a batch's incidents (correlation.ts `write`), 25 incidents as the two-instance batches had.
    const counted = await merger.query<{ id: string; count: string; revision: number; first_seen: Date; last_seen: Date; summary: unknown; xdr_unmirrored: number }>(
      `SELECT id, count, revision, first_seen, last_seen, summary, xdr_unmirrored FROM incidents WHERE closed_at IS NULL ORDER BY id LIMIT 25`,
    );
    const counting = await merger.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN (ANALYZE, BUFFERS) UPDATE incidents i SET count = u.count, revision = u.revision, first_seen = u.first_seen, last_seen = u.last_seen,
                                summary = u.summary, xdr_unmirrored = u.xdr_unmirrored
         FROM jsonb_to_recordset($1::jsonb) AS u(id text, count bigint, revision int, first_seen timestamptz, last_seen timestamptz,
              summary jsonb, xdr_unmirrored int)
         WHERE i.id = u.id`,
      [JSON.stringify(counted.rows.map((r) => ({ ...r, count: Number(r.count) + 1 })))],
    );
    process.stderr.write(`[${runId}] counting's UPDATE of 25 incidents:\n${counting.rows.map((r) => r['QUERY PLAN']).join('\n')}\n`);
    process.stderr.write(`[${runId}] outbox: heap ${size.rows[0]!.heap}, with indexes and TOAST ${size.rows[0]!.rel}, payload ${size.rows[0]!.toast} bytes on average; the merge's lookup:\n${lookup.rows.map((r) => r['QUERY PLAN']).join('\n')}\nthe merge's UPDATE:\n${update.rows.map((r) => r['QUERY PLAN']).join('\n')}\n`);
  } finally {
    await merger.query('ROLLBACK').catch(() => undefined);
    merger.release();
  }
  // The per-incident scan of waiting XDR ops (the claim's read, insertOps' heads), for 300 incidents, on the table as the run left it.
  const explainer = await pool.connect();
  await explainer.query('SET jit = off'); // as the app's sessions (src/store/postgres/pool.ts)
  const plan = await explainer.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (ANALYZE, BUFFERS) SELECT o.id, o.incident_id, o.kind, o.seq, o.xdr_sighting_id, o.previous_incident_id, o.status, o.attempts, o.last_error
     FROM unnest(ARRAY(SELECT DISTINCT incident_id FROM xdr_ops LIMIT 300)) AS k(incident_id)
     CROSS JOIN LATERAL (SELECT * FROM xdr_ops x WHERE x.incident_id = k.incident_id ORDER BY x.incident_id, x.id) o`,
  ).finally(() => explainer.release());
  process.stderr.write(`[${runId}] 300 incidents' XDR ops read after the run:\n${plan.rows.map((r) => r['QUERY PLAN']).join('\n')}\n`);
}

function durable(): boolean {
  return process.env['BENCH_PG_FSYNC'] !== 'off';
}

function render(rows: readonly PgRunRow[], plan: PgIngestPlan, notes: readonly string[]): string {
  const body = rows.map((r) => [
    `${fmt(r.size.incidents)} / ${fmt(r.size.sightings)}`,
    r.instances,
    fmt(r.accepted),
    `${fmt(r.rate)}/s${r.windowRates ? ` (${r.windowRates.map((x) => fmt(x)).join(', ')})` : ''}`,
    `${fmt(r.p50, 1)} / ${fmt(r.p99, 1)} ms`,
    `${fmt(r.cpuUsPerSighting)} µs`,
    r.pgCpuUsPerSighting === undefined ? 'n/a' : `${fmt(r.pgCpuUsPerSighting)} µs`,
    r.peakRssBytes.map(mb).join(', '),
    r.drainMs === undefined ? '**not drained in 120 s**' : `${fmt(r.drainMs)} ms`,
    r.generatorDelayMs ? `${fmt(r.generatorDelayMs.p99, 1)} / ${fmt(r.generatorDelayMs.max, 1)} ms` : 'n/a',
    Object.keys(r.failures).length ? Object.entries(r.failures).map(([k, v]) => `${k} ×${v}`).join(', ') : 'none',
  ]);
  return [
    `Real processes (\`src/main.ts\`, \`npm start\`'s node flags) on a throwaway PostgreSQL cluster on the same cores, **fsync ${durable() ? 'on' : 'off (BENCH_PG_FSYNC=off)'}**. ` +
      `Closed loop: ${plan.connections} keep-alive connections in all (split evenly between the instances), one signed sighting per request over the first ${fmt(Math.min(1_000, plan.openIncidents))} open incidents' hosts; ` +
      `${fmt(plan.warmupMs / 1000, 1)} s warm-up, then ${plan.windows > 1 ? `${plan.windows} windows of ${fmt(plan.runMs / 1000, 1)} s timed back to back; throughput, p50, p99 and CPU are each the windows' median, peak RSS and drain the worst window's (each window's throughput in brackets)` : `${fmt(plan.runMs / 1000, 1)} s timed`}. Store preloaded by SQL: the first ${fmt(plan.openIncidents)} incidents open, the rest closed (history), 10 sightings each. ` +
      `CPU per sighting from /proc (utime + stime): Sightline's processes, and PostgreSQL's (postmaster and its children). Drain: after the run, until every accepted sighting was applied to its incident. ` +
      `The load generator runs in the bench's process on the same cores; "load generator delay" is its own event-loop delay (the windows' median p99, the max of all), which every latency it measured at that moment includes.`,
    '',
    rows.length ? table(['incidents / sightings', 'instances', 'accepted', 'throughput', 'p50 / p99', 'Sightline CPU / sighting', 'PostgreSQL CPU / sighting', 'peak RSS per instance', 'drain', 'load generator delay p99 / max', 'failures'], body) : '_No figures._',
    '',
    ...notes.map((n) => `- ${n}`),
  ].join('\n');
}
