import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchChat } from './chat.js';
import { benchFootprint } from './footprint.js';
import { benchHunt } from './hunt.js';
import { benchIngest } from './ingest.js';
import { benchInvestigate } from './investigate.js';
import { benchMemory } from './memory.js';
import { machineInfo, machineMarkdown } from './machine.js';
import { benchParsing } from './parsing.js';
import { benchPostgresIngest } from './postgres-ingest.js';
import { benchRequestPath } from './request-path.js';
import { benchStorm } from './storm.js';
import { benchWebexCost } from './webex-cost.js';
import { benchTalosPosts } from './talos-posts.js';
import { readFile } from 'node:fs/promises';
import { renderReport, targetTable, upsertBenchSection, writeReport, type BenchResult } from './report.js';

/**
 * `npm run bench` runs every benchmark and writes docs/BENCHMARKS.md.
 * `--quick`: tiny sizes, prints only (CI checks the suite still runs; exit 0 unless something crashes).
 * `--only <name>`: one benchmark (ingest, hunt, talos-posts, chat, footprint, parsing, storm, investigate, webex-cost, request-path); prints only.
 * `--cpu-prof <dir>`: CPU profiles of the ingest server (node --cpu-prof) into <dir>.
 * `--ingest-sizes 0,10000`: the ingest benchmark at these store sizes (incidents; 10 sightings each) only (and the memory benchmark's idle stores).
 * `--tsx-only`: the ingest benchmark without the built (plain node) rows.
 * `--heap-snapshot <dir>`: a heap snapshot of the ingest server right after its timed runs (memory benchmark: of the
 *   flooded server at the end of the quiet time after the flood).
 * `--only postgres-ingest`: Sightline on a throwaway PostgreSQL cluster, one and two instances (needs PostgreSQL's
 *   server binaries); its section of docs/BENCHMARKS.md is replaced (appended the first time). Not in `--quick`
 *   unless asked by name (`--only postgres-ingest --quick`: tiny sizes, prints only).
 * `--flood-seconds 60`: length of the memory benchmark's flood (`--only memory`; 3 s with `--only memory --quick`;
 *   a plain `--quick` run leaves the memory section out).
 * `--memory-flood-only`: the memory benchmark's flood alone, without the idle stores (to compare settings).
 * Diagnostics of the ingest benchmark, printed to stderr per run (issue 14: where a request's time goes):
 * `BENCH_LOOP_DELAY=1`: event-loop delay of the load generator and of the server, and the time a request
 *   spends inside the server (headers in to answer handed to the kernel) next to what the client measured;
 * `BENCH_CALLS=1`: the calls Sightline made to the XDR and Webex emulators during its runs, by path.
 */
const BENCHMARKS: Record<string, (o: { quick: boolean; only?: string; cpuProfDir?: string; sizes?: number[]; tsxOnly?: boolean; heapSnapshotDir?: string; floodSeconds?: number; floodOnly?: boolean }) => Promise<BenchResult>> = {
  ingest: benchIngest,
  hunt: benchHunt,
  'talos-posts': benchTalosPosts,
  chat: benchChat,
  footprint: benchFootprint,
  parsing: benchParsing,
  storm: benchStorm,
  investigate: benchInvestigate,
  'webex-cost': benchWebexCost,
  'request-path': benchRequestPath,
  memory: benchMemory,
  'postgres-ingest': benchPostgresIngest,
};

const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, 'cpu-prof': { type: 'string' }, 'ingest-sizes': { type: 'string' }, 'tsx-only': { type: 'boolean', default: false }, 'heap-snapshot': { type: 'string' }, 'flood-seconds': { type: 'string' }, 'memory-flood-only': { type: 'boolean', default: false } },
  allowPositionals: false,
});
const quick = values.quick ?? false;
const only = values.only;
if (only && !BENCHMARKS[only]) {
  process.stderr.write(`Unknown benchmark "${only}": choose one of ${Object.keys(BENCHMARKS).join(', ')}.\n`);
  process.exit(2);
}

const machine = machineInfo();
process.stdout.write(`${machineMarkdown(machine)}\n\n`);
const started = performance.now();
const results: BenchResult[] = [];
/**
 * Left out of a plain `--quick` run (CI's): the memory section builds and floods the built server
 * (about 30 s, half the quick run) and CI must stay well inside its 10 minutes. `--only memory
 * --quick` still runs it quickly; the full run measures it.
 */
const NOT_IN_QUICK = new Set(['memory']);
for (const [name, bench] of Object.entries(BENCHMARKS)) {
  if (only && name !== only) continue;
  if (quick && !only && NOT_IN_QUICK.has(name)) continue;
  const t0 = performance.now();
  process.stdout.write(`--- ${name}${quick ? ' (quick)' : ''} ...\n`);
  const sizes = values['ingest-sizes']?.split(',').map((x) => Number(x.trim()));
  const result = await bench({
    quick,
    ...(only ? { only } : {}),
    cpuProfDir: values['cpu-prof'] ? path.resolve(values['cpu-prof']) : undefined,
    ...(sizes ? { sizes } : {}),
    tsxOnly: values['tsx-only'] ?? false,
    ...(values['heap-snapshot'] ? { heapSnapshotDir: path.resolve(values['heap-snapshot']) } : {}),
    ...(values['flood-seconds'] ? { floodSeconds: Number(values['flood-seconds']) } : {}),
    floodOnly: values['memory-flood-only'] ?? false,
  });
  results.push(result);
  process.stdout.write(`${result.markdown.trim()}\n\n${targetTable(result.targets)}\n(${Math.round((performance.now() - t0) / 1000)} s)\n\n`);
}
const elapsedMs = performance.now() - started;
if (!quick && !only) {
  const file = path.resolve('docs/BENCHMARKS.md');
  await writeReport(file, renderReport(machine, results, { quick, elapsedMs }));
  process.stdout.write(`Wrote ${file}\n`);
}
if (only === 'postgres-ingest' && !quick && results[0]?.targets.some((t) => t.what !== 'the PostgreSQL ingest bench ran')) {
  const file = path.resolve('docs/BENCHMARKS.md');
  await writeReport(file, upsertBenchSection(await readFile(file, 'utf8'), results[0], `Run alone with \`npm run bench -- --only postgres-ingest\` on ${machine.date} (load average at start ${machine.loadAtStart}).`));
  process.stdout.write(`Section "${results[0].title}" written to ${file}\n`);
}
const missed = results.flatMap((r) => r.targets.filter((t) => !t.met).map((t) => `${r.title}: ${t.what}`));
process.stdout.write(`Done in ${Math.round(elapsedMs / 1000)} s; targets missed: ${missed.length ? missed.join('; ') : 'none'}.\n`);
// Emulators and pools may keep handles open; the suite is finished.
process.exit(0);
