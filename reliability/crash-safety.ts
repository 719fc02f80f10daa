import { fridayOfWeek } from '../src/domain/talos/week.js';
import { startWorld, type EmulatedWorld } from '../src/sandbox/world.js';
import { ReportBuilder, SUITE_XDR_ALLOWANCE, SightlineProcess, percentile, seeded, sleep, waitFor, type SuiteReport } from './support.js';
import { duplicateCards, settle, xdrDuplicates } from './inspect.js';
import { SightingLedger } from './ledger.js';

/**
 * Suite 1 — crash safety. The REAL process (`node --import tsx src/main.ts`) takes
 * sightings from several concurrent clients and is SIGKILLed at random points, then
 * restarted on the same state dir. A ledger of every 202 is compared with the
 * incident counts at the end. Then a hunt is made slow (XDR latency) and killed
 * mid-run, and must resume without a second casebook or a second card.
 */
export interface CrashSafetyOptions {
  kills: number;
  clients: number;
  targets: number;
  /** Kills during the slow hunt. */
  huntKills: number;
  seed?: number;
  log?: (line: string) => void;
}


export async function runCrashSafety(opts: CrashSafetyOptions): Promise<SuiteReport> {
  const r = new ReportBuilder('1. Crash safety (SIGKILL of the real process)');
  const log = opts.log ?? (() => undefined);
  const rand = seeded(opts.seed ?? 7);
  const world = await startWorld();
  const proc = await SightlineProcess.create(world, {
    ...SUITE_XDR_ALLOWANCE,
    HTTP_RATE_LIMIT_PER_MINUTE: '1000000',
    CORRELATION_COALESCE_MS: '200',
    XDR_STATUS_SYNC_SECONDS: '0',
  });
  try {
    await sightingsUnderKills(world, proc, opts, rand, r, log);
    await huntUnderKills(world, proc, opts, rand, r, log);
  } finally {
    await proc.stop('SIGKILL');
    await world.stop();
  }
  return r.done(
    `${opts.clients} concurrent clients streamed signed sightings (batches of 1–4, ${opts.targets} targets, each sighting with a sender id; ` +
      `a request without an answer was resent later with the same id) at the real process while it was SIGKILLed ${opts.kills} times at random points ` +
      `(200–1500 ms after it answered /healthz) and restarted on the same state dir. Then a \`hunt now\` was slowed down with 400 ms XDR latency and killed ${opts.huntKills} time(s) mid-run.`,
  );
}

async function sightingsUnderKills(world: EmulatedWorld, proc: SightlineProcess, opts: CrashSafetyOptions, rand: () => number, r: ReportBuilder, log: (s: string) => void): Promise<void> {
  const sent = new SightingLedger({ idPrefix: 'rel', targets: opts.targets, rand });
  const ledger = sent.entries;
  let streaming = true;
  const client = async (c: number) => {
    while (streaming) {
      const outcome = await sent.send(c, proc.url);
      // Nobody listening (restarting): the same ids go out again once it is back.
      if (outcome === 'refused') await sleep(100);
      else if (outcome === 'unanswered') await sleep(20);
    }
  };

  const startMs: number[] = [];
  let parsedAfterKill = 0;
  const parseErrors: string[] = [];
  const clients = Array.from({ length: opts.clients }, (_, i) => client(i));
  for (let k = 0; k < opts.kills; k++) {
    startMs.push(await proc.start(60_000));
    log(`  crash-safety: start ${k + 1} took ${startMs.at(-1)} ms`);
    await sleep(200 + Math.floor(rand() * 1300));
    await proc.stop('SIGKILL');
    try {
      await proc.readState();
      parsedAfterKill++;
    } catch (err) {
      parseErrors.push((err as Error).message);
    }
    log(`  crash-safety: kill ${k + 1}/${opts.kills}, ${ledger.size} sightings sent so far`);
  }
  startMs.push(await proc.start(60_000));
  log(`  crash-safety: final start took ${startMs.at(-1)} ms`);
  await sleep(500);
  streaming = false;
  await Promise.all(clients);
  const final = await settle(proc);
  const stop = await proc.stop('SIGTERM');
  const state = await proc.readState();
  const incidents = Object.values(state.correlation?.incidents ?? {});

  const acked = [...ledger.values()].filter((e) => e.acked);
  const unknown = [...ledger.values()].filter((e) => !e.acked && e.unanswered > 0);
  const byHost = new Map<string, { acked: number; unknown: number; counted: number; open: number }>();
  const row = (h: string) => byHost.get(h) ?? byHost.set(h, { acked: 0, unknown: 0, counted: 0, open: 0 }).get(h)!;
  for (const e of acked) row(e.host).acked++;
  for (const e of unknown) row(e.host).unknown++;
  for (const inc of incidents) {
    const rw = row(inc.targetValue);
    rw.counted += inc.count;
    if (state.correlation?.openByTarget[inc.targetKey] === inc.id) rw.open++;
  }
  const lost = [...byHost].filter(([, v]) => v.counted < v.acked);
  const doubled = [...byHost].filter(([, v]) => v.counted > v.acked + v.unknown);
  const totalCounted = incidents.reduce((n, i) => n + i.count, 0);

  r.figure('SIGKILLs during sighting intake', opts.kills);
  r.figure('sightings sent (distinct ids)', ledger.size);
  r.figure('acknowledged (202)', acked.length);
  r.figure('never acknowledged (no answer, not resent to success)', unknown.length);
  r.figure('counted in incidents at the end', totalCounted);
  r.figure('restart time to /healthz, median / max (ms)', `${percentile(startMs, 50)} / ${Math.max(...startMs)}`);
  const slowStarts = startMs.filter((ms) => ms > 10_000).length;
  r.figure('restarts slower than 10 s', slowStarts);
  if (slowStarts > 0) {
    r.finding(
      `Start-up is blocked by the journal replay: ${slowStarts} restart(s) took more than 10 s before /healthz answered (max ${Math.max(...startMs)} ms). src/app.ts startApp() awaits intake.recover() before startHttpServer(), and recover() hands the backlog to CorrelationEngine.ingest(), whose afterApply() awaits the XDR sync of every replayed sighting. A liveness probe fails meanwhile and the 202 endpoint is down. Proposed patch (src/app.ts): start the HTTP server first and run \`void intake.recover()\` in the background (the intake already orders new items after the replay), or have /readyz report "replaying" until it finishes.`,
    );
  }
  r.figure('SIGTERM exit after the run (ms)', stop.ms);
  r.check('the state file parsed after every SIGKILL', parsedAfterKill === opts.kills, parseErrors[0]);
  r.check('no acknowledged sighting lost (count per target ≥ 202s per target)', lost.length === 0, lost.slice(0, 3).map(([h, v]) => `${h}: ${JSON.stringify(v)}`).join('; '));
  r.check('nothing counted twice (count per target ≤ 202s + unanswered per target)', doubled.length === 0, doubled.slice(0, 3).map(([h, v]) => `${h}: ${JSON.stringify(v)}`).join('; '));
  r.check('one open incident per target', [...byHost.values()].every((v) => v.open <= 1) && new Set(incidents.filter((i) => i.status !== 'Closed').map((i) => i.targetKey)).size === incidents.filter((i) => i.status !== 'Closed').length);
  r.check('only 202, 503 or no answer from the sightings endpoint', sent.unexpected === 0, sent.unexpectedSamples.join(' | '));
  r.check('every queued XDR op and outbox item done at the end', final.settled, final.detail);
  r.check('SIGTERM exit code 0 within 10 s', stop.code === 0 && stop.ms <= 10_000, `code ${stop.code}, ${stop.ms} ms`);

  const xdr = xdrDuplicates(world, incidents);
  r.figure('XDR incidents / local incidents', `${xdr.xdrIncidents} / ${incidents.length}`);
  r.check('at most one XDR incident per local incident', xdr.duplicateIncidents.length === 0, xdr.duplicateIncidents.slice(0, 3).join(', '));
  r.check('every local incident mirrored to XDR', xdr.missing.length === 0, xdr.missing.slice(0, 3).join(', '));
  r.figure('XDR sightings posted twice for one sighting', xdr.duplicateSightings);
  if (xdr.duplicateSightings > 0) {
    r.finding(
      `XDR mirroring: ${xdr.duplicateSightings} sighting(s) were created twice in XDR after a SIGKILL although src/domain/correlation/xdr-sync.ts looks a sighting queued by an earlier process up by its external id before POSTing it; look for a path that skips the lookup.`,
    );
  }
  // The outbox receipts each delivery (src/notify/receipts.ts) before the item leaves the queue, so
  // a kill can repeat a message only if it lands between Webex's answer and that one-line write:
  // at most one message per kill (one delivery in flight per channel).
  const cards = duplicateCards(world, 'Sightline Incidents');
  r.figure('incident room messages / re-sent after a kill', `${cards.total} / ${cards.duplicates.length}`);
  r.check('at most one message re-sent per kill (only a kill between the post and its receipt can repeat one)', cards.duplicates.length <= opts.kills, `${cards.duplicates.length} re-sent after ${opts.kills} kills`);
  if (cards.duplicates.length > 0) {
    r.finding(
      `Outbox, measured: after ${opts.kills} SIGKILLs, ${cards.duplicates.length} incident message(s) were posted twice in the incidents room (none without kills), e.g. ${cards.duplicates[0]!.replace(/\n/g, ' ').slice(0, 90)}. Each is a kill between Webex's answer and the delivery receipt's write; Webex has no idempotency key for POST /messages, so this window cannot be closed from our side.`,
    );
  }
}

async function huntUnderKills(world: EmulatedWorld, proc: SightlineProcess, opts: CrashSafetyOptions, rand: () => number, r: ReportBuilder, log: (s: string) => void): Promise<void> {
  const friday = fridayOfWeek(new Date(), 'America/New_York');
  world.talos.publish(friday, '2021/0723.json');
  // Threats are investigated concurrently, so the hunt must be slowed a lot to be caught mid-run.
  const slow = world.xdr.faults.add({ match: /^\/(iroh\/iroh-|ctia)/, latencyMs: 400 });
  await proc.start();
  const room = world.webex.createRoomAsPerson('Crash-safety analysts', ['alice@example.com']);
  world.webex.postAsPerson('alice@example.com', room.id, 'hunt now', { mentionBot: true });
  let kills = 0;
  for (let k = 0; k < opts.huntKills; k++) {
    const running = await waitFor(async () => (await proc.readState().catch(() => undefined))?.hunts.find((h) => h.status === 'running'), 'a running hunt', 20_000).catch(() => undefined);
    if (!running) break;
    await sleep(300 + Math.floor(rand() * 900));
    const still = (await proc.readState()).hunts.find((h) => h.id === running.id);
    if (still?.status !== 'running') break;
    await proc.stop('SIGKILL');
    kills++;
    log(`  crash-safety: hunt kill ${kills}, threats done ${still.threatsDone.length}`);
    await proc.start();
  }
  slow();
  const done = await waitFor(async () => {
    const s = await proc.readState();
    return s.hunts.length > 0 && s.hunts.every((h) => h.status !== 'running') && s.outbox.length === 0 ? s : undefined;
  }, 'the hunt to finish', 120_000).catch(() => undefined);
  const hunt = done?.hunts.at(-1);
  r.figure('SIGKILLs during the hunt', kills);
  r.check('hunt killed at least once mid-run', kills > 0);
  r.check(
    'the interrupted hunt finished after restart',
    hunt?.status === 'finished',
    hunt ? `${hunt.status}, ${done?.hunts.length} hunt record(s)` : `no finished hunt within 120 s; ${huntDiagnosis(world, room.id, proc)}`,
  );
  const casebooks = world.xdr.state.casebook ?? [];
  const byExt = new Map<string, number>();
  for (const cb of casebooks) for (const ext of (cb as { external_ids?: string[] }).external_ids ?? []) byExt.set(ext, (byExt.get(ext) ?? 0) + 1);
  const dupCasebooks = [...byExt].filter(([, n]) => n > 1).map(([e]) => e);
  r.figure('casebooks in XDR', casebooks.length);
  r.check('no duplicate casebook (per external id)', dupCasebooks.length === 0 && casebooks.length > 0, dupCasebooks.slice(0, 3).join(', ') || (casebooks.length === 0 ? 'no casebook at all' : undefined));
  const cards = duplicateCards(world, 'TALOS ROUNDUP Investigation');
  r.figure('hunt room messages', cards.total);
  r.check('no duplicate card per threat in the hunt room', cards.duplicates.length === 0, cards.duplicates.slice(0, 2).join(' | '));
}

/**
 * Why no hunt finished, for the report: what the analysts' room shows after `hunt now` (the bot's
 * answer, if any) and the process's last log lines about hunts. Seen once (2026-12-04): no hunt ran
 * at all, and nothing said why.
 */
function huntDiagnosis(world: EmulatedWorld, roomId: string, proc: SightlineProcess): string {
  const room = world.webex.messages(roomId).map((m) => `${m.personEmail}: ${(m.text ?? m.markdown ?? '').slice(0, 160)}`);
  const logs = proc.stdout.split('\n').filter((l) => /hunt|week|Talos/i.test(l)).slice(-5).map((l) => l.slice(0, 300));
  return `the analysts' room: ${room.length === 0 ? 'empty' : room.slice(-4).join(' | ')}; the process's last hunt log lines: ${logs.length === 0 ? 'none' : logs.join(' | ')}`;
}
