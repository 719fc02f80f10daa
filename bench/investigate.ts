import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { XdrHttpClient } from '../src/clients/xdr/client.js';
import { systemClock } from '../src/core/clock.js';
import { silentLogger } from '../src/core/logger.js';
import { endpointTarget, XdrEmulator, type XdrScenarioInput } from '../src/emulators/xdr/index.js';
import type { Observable } from '../src/domain/types.js';
import { Investigator } from '../src/services/investigator.js';
import { ResponseActionDesk } from '../src/services/response-actions.js';
import { LowdbStore } from '../src/store/lowdb-store.js';
import { table, type BenchResult, type TargetCheck } from './report.js';
import { fmt, median } from './stats.js';

/**
 * Benchmark 6: what one `investigate` of 10, 100 and 200 observables costs in
 * XDR calls and wall time, against the hunt's bound (one deliberate and at most
 * one observe call per batch of XDR_BATCH_SIZE), and what asking again costs.
 */
const BATCH = 50;
const CONCURRENCY = 4;
const SIZES = [10, 100, 200];

/** A defanged paste: hashes, domains and IPs; every tenth Clean, every tenth Malicious and sighted on a host. */
function world(n: number): { text: string; scenario: XdrScenarioInput } {
  const observables: Observable[] = Array.from({ length: n }, (_, i) => {
    if (i % 3 === 0) return { type: 'sha256', value: i.toString(16).padStart(64, 'a') };
    if (i % 3 === 1) return { type: 'domain', value: `host${i}.bad-example.net` };
    return { type: 'ip', value: `198.51.${Math.floor(i / 250)}.${(i % 250) + 1}` };
  });
  const scenario: Required<Pick<XdrScenarioInput, 'verdicts' | 'sightings' | 'responseActions'>> = {
    verdicts: [],
    sightings: [],
    responseActions: [
      { id: 'amp-add-sha256-scd', title: 'Add SHA256 to Custom Detections', module: 'Secure Endpoint', observableTypes: ['sha256'] },
      { id: 'block', title: 'Block this domain', module: 'Umbrella', observableTypes: ['domain'] },
      { id: 'amp-start-isolation-amp-computer-guid', title: 'Isolate host', module: 'Secure Endpoint', observableTypes: ['amp_computer_guid'] },
    ],
  };
  observables.forEach((o, i) => {
    if (i % 10 === 0) scenario.verdicts.push({ observable: o, module: 'Talos Intelligence', disposition: 1 });
    if (i % 10 === 5) {
      scenario.verdicts.push({ observable: o, module: 'Secure Endpoint', disposition: 2 });
      scenario.sightings.push({ observable: o, module: 'Secure Endpoint', targets: [endpointTarget({ hostname: `PC-${i % 4}`, guid: `guid-${i % 4}` }, '2026-11-30T10:00:00Z')] });
    }
  });
  const text = `Forwarded from the ticket: ${observables.map((o) => o.value.replaceAll('.', '[.]')).join(', ')}`;
  return { text, scenario };
}

interface Run {
  wallMs: number;
  deliberate: number;
  observe: number;
  refer: number;
  respond: number;
  api: number;
  againCalls: number;
}

async function runOnce(n: number, latencyMs: number): Promise<Run> {
  const { text, scenario } = world(n);
  const emu = new XdrEmulator({ scenario, latencyMs, maxObservablesPerRequest: BATCH });
  await emu.start();
  const dir = await mkdtemp(path.join(tmpdir(), 'sightline-bench-investigate-'));
  const store = await LowdbStore.open(path.join(dir, 'state.json'));
  try {
    const client = new XdrHttpClient({ xdr: emu.xdrConfig({ batchSize: BATCH, concurrency: CONCURRENCY }), logger: silentLogger });
    const investigator = new Investigator({
      xdr: client,
      desk: new ResponseActionDesk({ store, xdr: client, clock: systemClock, logger: silentLogger }),
      clock: systemClock,
      logger: silentLogger,
      maxObservables: 200,
      cacheSeconds: 300,
      batchSize: BATCH,
      excludedModules: ['Talos Intelligence'],
      cleanRule: 'unless-malicious',
    });
    // Token, connections and JIT warmed by one other paste; the timed ask is a cold cache for its own IOCs.
    await investigator.investigate('warm-up.example.org 192.0.2.1', 'bench@example.com');
    emu.calls.length = 0;
    const t0 = performance.now();
    const outcome = await investigator.investigate(text, 'bench@example.com');
    const wallMs = performance.now() - t0;
    if (outcome.kind !== 'report' || outcome.report.observables.length !== n) throw new Error(`expected ${n} observables in the report`);
    const api = emu.calls.filter((c) => !c.path.endsWith('/oauth2/token')).length;
    const count = (part: string) => emu.calls.filter((c) => c.path.includes(part)).length;
    const run = { wallMs, deliberate: count('/deliberate/'), observe: count('/observe/'), refer: count('/refer/'), respond: count('/respond/observables'), api, againCalls: 0 };
    emu.calls.length = 0;
    for (let i = 0; i < 4; i++) await investigator.investigate(text, 'bench@example.com');
    run.againCalls = emu.calls.length;
    return run;
  } finally {
    await store.close();
    await emu.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Rounds of ⌈calls ÷ concurrency⌉ × latency: deliberate, then observe + refer + respond together, then respond for the targets. */
function boundMs(r: Run, latencyMs: number): number {
  const batches = (k: number) => Math.ceil(k / CONCURRENCY);
  const second = r.observe + r.refer + r.respond - (r.respond > 0 ? 1 : 0);
  return (batches(r.deliberate) + batches(second) + 1) * latencyMs;
}

export async function benchInvestigate(o: { quick: boolean }): Promise<BenchResult> {
  const latencyMs = o.quick ? 5 : 50;
  const runs = o.quick ? 1 : 3;
  const rows: string[][] = [];
  const targets: TargetCheck[] = [];
  let worstRatio = 0;
  let callsWithinBound = true;
  let againFree = true;
  for (const n of SIZES) {
    const all: Run[] = [];
    for (let i = 0; i < runs; i++) all.push(await runOnce(n, latencyMs));
    const r = all[0]!;
    const wall = median(all.map((x) => x.wallMs));
    const huntBound = 2 * Math.ceil(n / BATCH);
    const bound = boundMs(r, latencyMs);
    worstRatio = Math.max(worstRatio, wall / bound);
    callsWithinBound &&= r.deliberate <= Math.ceil(n / BATCH) && r.observe <= Math.ceil(n / BATCH);
    againFree &&= all.every((x) => x.againCalls === 0);
    rows.push([
      String(n),
      String(r.deliberate),
      String(r.observe),
      `${r.deliberate + r.observe} (bound ${huntBound})`,
      String(r.refer),
      String(r.respond),
      String(r.api),
      `${fmt(wall)} ms`,
      `${fmt(bound)} ms`,
      `${fmt(wall / bound, 2)}×`,
      String(r.againCalls),
    ]);
  }
  targets.push({ what: 'deliberate and observe calls per investigation', target: `≤ 1 each per batch of ${BATCH}`, measured: callsWithinBound ? 'within' : 'over', met: callsWithinBound });
  targets.push({ what: 'XDR calls for the same paste asked 4 more times', target: '0 (cached)', measured: againFree ? '0' : '> 0', met: againFree });
  targets.push({ what: 'wall time vs rounds × latency (worst size)', target: '≤ 1.5×', measured: `${fmt(worstRatio, 2)}×`, met: worstRatio <= 1.5 });
  const markdown = [
    `The bot's real \`Investigator\` and \`XdrHttpClient\` (XDR_BATCH_SIZE=${BATCH}, XDR_CONCURRENCY=${CONCURRENCY}) against the XDR emulator with ${latencyMs} ms added to every API call. ` +
      'The paste is defanged text of sha256 hashes, domains and IPs; every tenth is Clean (Talos), every tenth Malicious and sighted on one of four hosts (Secure Endpoint), the rest Unknown. ' +
      `Clean observables are not observed (the hunt's rule); refer and respond run beside observe for the non-Clean ones, then respond once more for the sighted hosts. Wall time: median of ${runs} cold asks (none of the paste cached; token, connections and JIT warmed by one other paste). ` +
      '"hunt bound" is one deliberate and one observe call per batch, what a hunt spends on the same observables. "bound (time)" is the least the calls can take: ⌈deliberate ÷ 4⌉ round trips, then ⌈(observe + refer + respond) ÷ 4⌉, then one for the hosts, each round one latency.',
    '',
    table(['observables', 'deliberate', 'observe', 'deliberate + observe', 'refer', 'respond', 'API calls', 'wall', 'bound (time)', 'wall ÷ bound', 'calls for 4 more asks'], rows),
  ].join('\n');
  return { name: 'investigate', title: '6. Investigate', markdown, targets };
}
