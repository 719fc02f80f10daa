import { startInProcess, type InProcessBot } from './in-process.js';
import { ReportBuilder, moduleSighting, postSightings, sleep, type SuiteReport } from './support.js';

/**
 * Suite 3 — faults. The same workload (one full hunt of the real 2021-07-23
 * roundup + N sightings over 20 targets) runs twice, on fresh emulators: once
 * clean, once with every emulator misbehaving (XDR: 20 % 5xx, 429 + Retry-After,
 * slow answers, dropped connections on every endpoint; Webex 503/429 bursts;
 * SMTP and Talos failures). The end states must be the same.
 */
export interface FaultsOptions {
  sightings: number;
  log?: (line: string) => void;
}

interface EndState {
  huntStatus: string;
  targetsPerThreat: string;
  casebooks: string;
  countsPerTarget: string;
  xdrIncidents: number;
  notDelivered: number;
}

export async function runFaults(opts: FaultsOptions): Promise<SuiteReport> {
  const r = new ReportBuilder('3. Faults (every emulator misbehaving)');
  const clean = await workload(opts, false);
  opts.log?.('  faults: clean run done');
  const faulty = await workload(opts, true);
  for (const key of Object.keys(clean.state) as (keyof EndState)[]) {
    r.check(`same ${key} with faults as without`, clean.state[key] === faulty.state[key], clean.state[key] === faulty.state[key] ? undefined : difference(clean.state[key], faulty.state[key]));
  }
  r.figure('sightings per run', opts.sightings);
  r.figure('XDR requests answered with a fault / total (faulty run)', `${faulty.xdrFaulted} / ${faulty.xdrCalls}`);
  r.figure('hunt + sightings wall time clean / faulty (s)', `${clean.seconds} / ${faulty.seconds}`);
  r.figure('XDR mirror + outbox catch-up after the workload, clean / faulty (s)', `${clean.settleSeconds} / ${faulty.settleSeconds}`);
  r.check('the XDR mirror and the outbox catch up under faults (within the 120 s settle window)', faulty.settled, `${faulty.settleSeconds} s`);
  r.figure('XDR incidents, casebooks (clean run)', `${clean.state.xdrIncidents}, ${clean.state.casebooks.split(',').filter(Boolean).length}`);
  return r.done(
    `A full \`hunt blog\` of the real 2021-07-23 roundup and ${opts.sightings} sightings over 20 targets, first against clean emulators, then with XDR answering 20 % 5xx, 5 % 429 (Retry-After 1 s), 5 % dropped connections and 20 % slow (300 ms) on every endpoint, Webex failing 15 posts with 503 and 5 with 429, SMTP refusing 5 mails and Talos failing 2 downloads.`,
  );
}

async function workload(opts: FaultsOptions, faults: boolean): Promise<{ state: EndState; xdrCalls: number; xdrFaulted: number; seconds: number; settleSeconds: number; settled: boolean }> {
  const bot = await startInProcess({ CORRELATION_COALESCE_MS: '0' });
  const t0 = Date.now();
  try {
    const { world, app } = bot;
    if (faults) {
      const every = /^\/(iroh\/|ctia)/;
      world.xdr.faults.add({ match: every, status: 503, rate: 0.2 });
      world.xdr.faults.add({ match: every, status: 429, retryAfterSeconds: 1, rate: 0.05 });
      world.xdr.faults.add({ match: every, drop: true, rate: 0.05 });
      world.xdr.faults.add({ match: every, latencyMs: 300, rate: 0.2 });
      world.webex.injectFault({ pathPattern: '^/v1/messages$', method: 'POST', status: 503, count: 15 });
      world.webex.injectFault({ pathPattern: '^/v1/', status: 429, retryAfterSeconds: 1, count: 5 });
      world.smtp.failNext(5);
      world.talos.failNext(2);
    }
    const uri = world.talos.githubTemplate.replace('{yyyy}', '2021').replace('{mmdd}', '0723');
    await app.hunts.runUri(uri, 'alice@example.com');
    const posting = (async () => {
      for (let i = 0; i < opts.sightings; i += 50) {
        const batch = Array.from({ length: Math.min(50, opts.sightings - i) }, (_, k) => moduleSighting(`fault-${i + k}`, `fault-host-${(i + k) % 20}`, `fault-${(i + k) % 7}.example`));
        const body = JSON.stringify(batch);
        for (let attempt = 0; attempt < 20; attempt++) {
          const res = await postSightings(app.http.url, body);
          if (res.status === 202) break;
          await sleep(200);
        }
      }
    })();
    await Promise.all([posting, app.hunts.idle()]);
    const tSettle = Date.now();
    const settled = await settleInProcess(bot);
    const settleSeconds = Math.round((Date.now() - tSettle) / 100) / 10;
    opts.log?.(`  faults (${faults ? 'faulty' : 'clean'}): hunt + posting ${((tSettle - t0) / 1000).toFixed(1)} s, XDR mirror and outbox settled ${settled ? 'in' : 'NOT within'} ${settleSeconds} s`);
    world.xdr.faults.clear();
    const s = app.store.get();
    const hunt = s.hunts.at(-1);
    const outcomes = (hunt?.outcomes ?? []) as { name: string; targets?: unknown[] }[];
    const incidents = Object.values((s.correlation as { incidents?: Record<string, { targetValue: string; count: number }> })?.incidents ?? {});
    const countBy = new Map<string, number>();
    for (const i of incidents) countBy.set(i.targetValue, (countBy.get(i.targetValue) ?? 0) + i.count);
    const calls = world.xdr.calls.filter((c) => c.path !== '/iroh/oauth2/token');
    return {
      state: {
        huntStatus: hunt?.status ?? 'none',
        targetsPerThreat: outcomes.map((o) => `${o.name}:${o.targets?.length ?? 0}`).sort().join(','),
        casebooks: (world.xdr.state.casebook ?? []).map((c) => String((c as { title?: string }).title)).sort().join(','),
        countsPerTarget: [...countBy].sort().map(([k, v]) => `${k}=${v}`).join(','),
        xdrIncidents: (world.xdr.state.incident ?? []).length,
        notDelivered: s.outbox.length,
      },
      xdrCalls: calls.length,
      xdrFaulted: calls.filter((c) => c.status === 0 || c.status === 429 || c.status >= 500).length,
      seconds: Math.round((Date.now() - t0) / 100) / 10,
      settleSeconds,
      settled,
    };
  } finally {
    await bot.stop();
  }
}

/**
 * What differs between the clean and the faulty run's value, for the report: the entries of a sorted,
 * comma-joined list that only one side has (each with its count when it repeats), else both values.
 */
export function difference(clean: string | number, faulty: string | number): string {
  if (typeof clean !== 'string' || typeof faulty !== 'string') return `clean ${clean} | faulty ${faulty}`;
  const counts = (v: string) => v.split(',').filter(Boolean).reduce((m, e) => m.set(e, (m.get(e) ?? 0) + 1), new Map<string, number>());
  const [a, b] = [counts(clean), counts(faulty)];
  const only = (x: Map<string, number>, y: Map<string, number>) =>
    [...x].filter(([e, n]) => (y.get(e) ?? 0) < n).map(([e, n]) => (n > 1 ? `${e} ×${n}` : e)).join('; ') || 'nothing';
  return `only with faults: ${only(b, a)} | missing with faults: ${only(a, b)}`.slice(0, 600);
}

/** Intake processed, XDR queue empty, outbox drained (each retried until quiet or 120 s). */
export async function settleInProcess(bot: InProcessBot, timeoutMs = 120_000): Promise<boolean> {
  const { app } = bot;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await app.intake.idle();
    await app.engine.flushCoalesced();
    await app.engine.syncPending();
    // Time passes: items waiting out their retry backoff (up to minutes) are due now.
    if (app.store.get().outbox.length > 0) {
      await app.store.update((st) => {
        for (const item of st.outbox) item.nextAttemptAt = new Date(0).toISOString();
      });
      app.outbox.kick();
    }
    await app.outbox.drain().catch(() => undefined);
    const s = app.store.get();
    const pending = Object.values((s.correlation as { incidents?: Record<string, { xdrSync: { pending: unknown[] } }> })?.incidents ?? {}).reduce((n, i) => n + i.xdrSync.pending.length, 0);
    if (pending === 0 && s.outbox.length === 0) return true;
    await sleep(100);
  }
  return false;
}
