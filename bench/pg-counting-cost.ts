/**
 * How fast one instance counts accepted sightings on PostgreSQL, alone: the apply loop's own
 * cost, without the HTTP load that makes the ingest benchmark's figures swing by a third from
 * run to run. Counting is the serial part of the PostgreSQL path (one instance counts at a time:
 * sightings-log.ts), so its rate is the ceiling of a sustained flood (issue 15).
 *
 *   npx tsx bench/pg-counting-cost.ts [rounds] [batch]      (default 5 rounds, batches of 500)
 *   BENCH_PG_STATEMENTS=1 npx tsx bench/pg-counting-cost.ts  (also PostgreSQL's time per statement, timed rounds only)
 *
 * A throwaway cluster (fsync on), 1,000 open incidents; each round appends 10,000 sightings with
 * CTIM bodies over their hosts to the log (not timed), then times counting them all, batch by
 * batch as the loop does. The XDR queue fills to its cap in the first round: that one is left out.
 */
import { PostgresCorrelationStore } from '../src/store/postgres/correlation.js';
import { migrate } from '../src/store/postgres/migrate.js';
import { createPool } from '../src/store/postgres/pool.js';
import { PostgresSightingsLog } from '../src/store/postgres/sightings-log.js';
import { startThrowawayCluster } from '../src/sandbox/postgres-cluster.js';
import type { IncomingSighting } from '../src/domain/correlation/intake.js';
import { parseLadder } from '../src/domain/correlation/ladder.js';

const rounds = Number(process.argv[2] ?? 5);
const batch = Number(process.argv[3] ?? 500);
const HOSTS = 1_000;
const PER_ROUND = 10_000;

function sighting(id: string, host: string): IncomingSighting {
  const ioc = { type: 'domain', value: `evil-${id.length % 7}.example` };
  return {
    dedupeKey: id,
    target: { type: 'endpoint', observables: [{ type: 'hostname', value: host }, { type: 'ip', value: '10.0.0.1' }] },
    ioc,
    source: 'webhook',
    observedAt: new Date().toISOString(),
    ctim: { type: 'sighting', observables: [ioc], tactics: ['TA0001'], description: 'x'.repeat(400) },
  };
}

const statements = process.env.BENCH_PG_STATEMENTS === '1';
const cluster = await startThrowawayCluster({ durable: true, statements });
const pool = createPool({ url: cluster.url, max: 4 });
try {
  await migrate(pool);
  const log = new PostgresSightingsLog(pool);
  const store = new PostgresCorrelationStore(pool, log, { rungs: parseLadder('gte 1000000 -> notify'), rejectedIsClosed: true, dryRun: true });
  const append = async (prefix: string, n: number) => {
    for (let i = 0; i < n; i += 500) {
      await log.append(Array.from({ length: Math.min(500, n - i) }, (_, j) => sighting(`${prefix}-${i + j}`, `host-${(i + j) % HOSTS}`)));
    }
  };
  const count = async () => {
    let applied = 0;
    let batches = 0;
    for (;;) {
      const r = await store.applyNext(batch);
      if (r.claimed === 0) return { applied, batches };
      applied += r.claimed;
      batches++;
    }
  };
  await append('open', HOSTS);
  await count();
  const rates: number[] = [];
  if (statements) await pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  for (let round = 0; round <= rounds; round++) {
    await append(`r${round}`, PER_ROUND);
    if (statements && round === 1) await pool.query('SELECT pg_stat_statements_reset()');
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const { applied, batches } = await count();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const rate = (applied / ms) * 1000;
    if (round > 0) rates.push(rate);
    console.log(
      `round ${round}${round === 0 ? ' (XDR queue filling; left out)' : ''}: ${applied} sightings in ${batches} batches, ${ms.toFixed(0)} ms, ` +
        `${rate.toFixed(0)} /s, ${(ms / batches).toFixed(1)} ms a batch, this process's CPU ${((cpu.user + cpu.system) / applied).toFixed(0)} µs a sighting`,
    );
  }
  if (statements) {
    await new Promise((r) => setTimeout(r, 600)); // the statistics of the last statements reach the view
    const { rows } = await pool.query<{ ms: number; calls: string; rows: string; wal: string; q: string }>(
      `SELECT round(total_exec_time)::int AS ms, calls, rows, wal_bytes AS wal, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS q
       FROM pg_stat_statements WHERE query NOT ILIKE '%pg_stat_statements%' AND query NOT ILIKE 'INSERT INTO sightings%' AND query NOT ILIKE 'WITH input AS MATERIALIZED%'
       ORDER BY total_exec_time DESC LIMIT 15`,
    );
    const applied = rates.length * PER_ROUND;
    for (const r of rows) console.log(`${String(r.ms).padStart(6)} ms ${(r.ms * 1000 / applied).toFixed(0).padStart(4)} µs/sighting ${String(Math.round(Number(r.wal) / applied)).padStart(5)} WAL B/sighting ${r.calls.padStart(6)} calls  ${r.q}`);
  }
  rates.sort((a, b) => a - b);
  console.log(`counting rate over ${rates.length} rounds: median ${rates[Math.floor(rates.length / 2)]!.toFixed(0)} /s (min ${rates[0]!.toFixed(0)}, max ${rates.at(-1)!.toFixed(0)})`);
} finally {
  await pool.end();
  await cluster.stop();
}
