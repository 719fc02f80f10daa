import { parseRoundup } from '../src/domain/talos/parse.js';
import { table, type BenchResult, type TargetCheck } from './report.js';
import { DEFAULT_PARSE, loadRoundup, ROUNDUP_FILES, SMALLEST } from './roundups.js';
import { fmt, median } from './stats.js';

/** Benchmark 5: parsing + cleaning (refang, CIDR, junk hosts, dedupe) of each real roundup, MB/s. */
export async function benchParsing(o: { quick: boolean }): Promise<BenchResult> {
  const runs = o.quick ? 3 : 9;
  const rows: string[][] = [];
  for (const file of o.quick ? [SMALLEST] : ROUNDUP_FILES) {
    const r = await loadRoundup(file);
    parseRoundup(r.raw, file, DEFAULT_PARSE); // warm-up: JIT
    const full: number[] = [];
    const jsonOnly: number[] = [];
    for (let i = 0; i < runs; i++) {
      let t0 = performance.now();
      const parsed = parseRoundup(r.raw, file, DEFAULT_PARSE);
      full.push(performance.now() - t0);
      if (parsed.threats.length === 0) throw new Error(`${file} parsed to no threats`);
      t0 = performance.now();
      JSON.parse(r.raw);
      jsonOnly.push(performance.now() - t0);
    }
    const ms = median(full);
    const observables = r.roundup.threats.reduce((a, t) => a + t.observables.length, 0);
    const rejected = r.roundup.threats.reduce((a, t) => a + t.rejected.length, 0);
    rows.push([file, fmt(r.bytes / 1024, 0) + ' KB', String(r.roundup.threats.length), fmt(observables), fmt(rejected), `${fmt(ms, 1)} ms`, fmt(r.bytes / (1024 * 1024) / (ms / 1000), 1), `${fmt(median(jsonOnly), 1)} ms`]);
  }
  const targets: TargetCheck[] = [];
  const markdown = [
    `\`parseRoundup\` (src/domain/talos/parse.ts) with the default settings (TALOS_INCLUDE_SAMPLE_HASHES=false, TALOS_CIDR_EXPAND_MAX=4): JSON.parse, schema checks, refang, CIDR handling, junk-host filtering, de-duplication. ` +
      `One warm-up, then the median of ${runs} runs per file. "JSON.parse alone" is the share of the time spent in V8's parser.`,
    '',
    table(['roundup', 'size', 'threats', 'observables', 'rejected values', 'parse + clean', 'MB/s', 'JSON.parse alone'], rows),
  ].join('\n');
  return { name: 'parsing', title: '5. Parsing', markdown, targets };
}
