import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import pg from 'pg';
import { migrate } from '../src/store/postgres/migrate.js';
import { fridayOfWeek } from '../src/domain/talos/week.js';
import { previousScheduledRun } from '../src/services/scheduler.js';
import { freePort } from '../src/sandbox/free-port.js';
import { SightlineInstance } from '../src/sandbox/instance.js';
import { startThrowawayCluster, type ThrowawayCluster } from '../src/sandbox/postgres-cluster.js';
import { assertRunningOnPostgres } from '../src/sandbox/postgres-sandbox.js';
import { startRoundRobinProxy, type RoundRobinProxy } from '../src/sandbox/round-robin-proxy.js';
import { startWorld, type EmulatedWorld } from '../src/sandbox/world.js';
import { startNodeFlags } from '../bench/start-flags.js';
import { duplicateCards } from './inspect.js';
import { duplicateExternalIds, judgeCommands, judgeLedger, killPlan, takeoverFigures, weeklyHuntsRepeated, type HuntRow, type KillKind, type SentCommand, type StoredSighting } from './postgres-crash-checks.js';
import { SightingLedger } from './ledger.js';
import { ReportBuilder, SUITE_XDR_ALLOWANCE, percentile, seeded, sleep, type SuiteReport } from './support.js';

/**
 * Section `postgres-crash` — the crash suite on PostgreSQL. Two real processes
 * (`node --import tsx src/main.ts` with DATABASE_URL) on one throwaway cluster, one URL in front
 * of them for Webex's webhooks; clients send signed sightings to both instances directly (a
 * refused connection is resent, same ids, to the other). Instances are SIGKILLed — some at
 * random, some the leader — and restarted; the leader's missed-run check starts this week's hunt
 * (slowed by XDR latency, so kills land mid-hunt). At the end the database, the XDR emulator and
 * the Webex emulator are compared with the ledger of every 202.
 */
export const POSTGRES_CRASH_TITLE = '8. Crash safety on PostgreSQL (two instances, SIGKILL)';

/** The issue's sizes: 20 kills of either instance and 10 of the leader, clients on both. */
export const POSTGRES_CRASH_FULL = { eitherKills: 20, leaderKills: 10, clients: 6, targets: 10 } as const;

export interface PostgresCrashOptions {
  /** Kills of a random running instance. */
  eitherKills: number;
  /** Kills of whichever instance leads at that moment. */
  leaderKills: number;
  clients: number;
  targets: number;
  /** How long to wait for another instance to take over after a leader kill (the issue asks ≤ 15 s). */
  takeoverWaitMs?: number;
  leaderPollSeconds?: number;
  seed?: number;
  log?: (line: string) => void;
  /** Run another entry than src/main.ts (e.g. dist/main.js after `npm run build`). */
  entry?: { file: string; nodeArgs: string[] };
}

/** What became of one Webex webhook at the shared URL. */
interface WebhookOutcome {
  /** The instance's HTTP port it reached (the last one tried). */
  port: number;
  /** Its HTTP status, or the error that ended it (ECONNRESET, ECONNREFUSED). */
  outcome: number | string;
  at: number;
}

/** "port 1234 200 at 21:41:44.142", or why there is none. */
function describeWebhook(w: WebhookOutcome | undefined): string {
  return w ? `port ${w.port} ${w.outcome} at ${new Date(w.at).toISOString().slice(11, 23)}` : 'never forwarded';
}

interface ChatLogLine {
  port: number;
  at: number;
  text: string;
}

interface Run {
  cluster: ThrowawayCluster;
  world: EmulatedWorld;
  proxy: RoundRobinProxy;
  /** Each webhook's event id → the instance it reached and its answer (or the error), and when. */
  webhooks: Map<string, WebhookOutcome>;
  /** Chat-side log lines and warnings of both instances (by HTTP port), kept to explain an unanswered command. */
  chatLogs: ChatLogLine[];
  instances: SightlineInstance[];
  pool: pg.Pool;
  stateDir: string;
}

export async function runPostgresCrash(opts: PostgresCrashOptions): Promise<SuiteReport> {
  const r = new ReportBuilder(POSTGRES_CRASH_TITLE);
  const log = opts.log ?? (() => undefined);
  const rand = seeded(opts.seed ?? 15);
  const run = await startRun(opts);
  try {
    await killAndCheck(run, opts, rand, r, log);
  } finally {
    await Promise.all(run.instances.map((i) => i.stop('SIGKILL')));
    await run.proxy.stop().catch(() => undefined);
    await run.pool.end().catch(() => undefined);
    await run.world.stop();
    await run.cluster.stop();
    await rm(run.stateDir, { recursive: true, force: true });
  }
  const pollS = opts.leaderPollSeconds ?? 5;
  return r.done(
    `Two Sightline processes on one PostgreSQL database (a throwaway cluster on this machine's cores, LEADER_POLL_SECONDS=${pollS}), Webex webhooks through one round-robin URL. ` +
      `${opts.clients} concurrent clients streamed signed sightings (batches of 1–4, ${opts.targets} targets, each sighting with a sender id) straight at both instances; a refused connection was resent with the same ids to the other instance, and half of what got no answer was resent later. ` +
      `Meanwhile ${opts.eitherKills} SIGKILLs of a random instance and ${opts.leaderKills} of the leader, spread over the run, 200–1500 ms apart once both were up; after a leader kill the survivor was timed until it logged its election ("elected leader: …"), then the killed one restarted. ` +
      `The roundup of the last scheduled run's week (${HUNT_CRON}, ${HUNT_TIMEZONE}) was published and the leader's missed-run check hunted it, with 300 ms XDR latency on the hunt's lookups so kills landed mid-hunt. An analyst sent \`incidents\` every 1–3 s in a room of the bot's; Webex's webhook took each to the shared URL, which passed it to either instance (the other when that one refused the connection).`,
  );
}

const ANALYST = 'alice@example.com';
/**
 * A command's answer may be lost with the instance its webhook reached, if that one is killed this soon
 * after (answers take 50–550 ms here; kills come every 5–10 s, so a longer grace would excuse most commands).
 */
const COMMAND_GRACE_MS = 3_000;

/** The weekly schedule the instances run (the default's), so the suite knows which week a missed run hunts. */
const HUNT_CRON = '0 18 * * 5';
const HUNT_TIMEZONE = 'America/New_York';

async function startRun(opts: PostgresCrashOptions): Promise<Run> {
  const cluster = await startThrowawayCluster();
  const world = await startWorld().catch(async (err: unknown) => {
    await cluster.stop();
    throw err;
  });
  const stateDir = await mkdtemp(path.join(tmpdir(), 'sightline-pg-crash-'));
  const ports = [await freePort(), await freePort()];
  const chatLogs: ChatLogLine[] = [];
  // Which instance each Webex webhook reached, and with what answer (by the event's message id): a command left unanswered says where it went.
  const webhooks = new Map<string, WebhookOutcome>();
  const proxy = await startRoundRobinProxy(
    ports.map((p) => `http://127.0.0.1:${p}`),
    {
      onOutcome: (body, backend, outcome) => {
        let id: string | undefined;
        try {
          id = (JSON.parse(body.toString('utf8')) as { data?: { id?: string } }).data?.id;
        } catch {
          return; // not a webhook delivery
        }
        if (id) webhooks.set(id, { port: Number(new URL(backend).port), outcome, at: Date.now() });
      },
    },
  );
  const instances = ports.map((port, i) => {
    const env = world.env({
      LOG_LEVEL: 'info',
      DATABASE_URL: cluster.url,
      LEADER_POLL_SECONDS: String(opts.leaderPollSeconds ?? 5),
      HTTP_PORT: String(port),
      PUBLIC_URL: proxy.url,
      STATE_FILE: path.join(stateDir, `instance-${i}.json`),
      ...SUITE_XDR_ALLOWANCE,
      HTTP_RATE_LIMIT_PER_MINUTE: '1000000',
      CORRELATION_COALESCE_MS: '200',
      XDR_STATUS_SYNC_SECONDS: '0',
      HUNT_RUN_MISSED_ON_START: 'true',
      HUNT_CRON,
      HUNT_TIMEZONE,
      // Retention prunes applied sightings rows past the dedupe window (default 5 min): the ledger check
      // below reads every acknowledged id back from that table, so keep them for the whole run.
      SIGHTINGS_DEDUPE_WINDOW_SECONDS: '86400',
    });
    return new SightlineInstance({
      name: `instance-${'ab'[i]}`,
      url: `http://127.0.0.1:${port}`,
      env,
      nodeFlags: startNodeFlags(env),
      // The chat side's lines and every warning or error, to say why a command went unanswered.
      onLog: (line) => {
        if ((line.level ?? 0) < 40 && !/"component":"(bot|webex-webhook|chat)/.test(JSON.stringify(line))) return;
        chatLogs.push({ port, at: Date.now(), text: JSON.stringify(line).slice(0, 300) });
        // Bounded: a run that warns a lot keeps its last lines, which are the ones asked for.
        if (chatLogs.length > 20_000) chatLogs.splice(0, 5_000);
      },
      ...(opts.entry ? { entry: opts.entry } : {}),
    });
  });
  const pool = new pg.Pool({ connectionString: cluster.url, max: 2, application_name: 'postgres-crash-suite' });
  return { cluster, world, proxy, webhooks, chatLogs, instances, pool, stateDir };
}

async function killAndCheck(run: Run, opts: PostgresCrashOptions, rand: () => number, r: ReportBuilder, log: (s: string) => void): Promise<void> {
  const { world, instances, pool } = run;
  // The week the leader's missed-run check hunts: that of the last scheduled run, not of today (on a
  // Friday before 18:00 New York time that is last week; this week's file made every hunt end at once
  // as "not published", so no kill could land mid-hunt).
  const week = fridayOfWeek(previousScheduledRun(HUNT_CRON, HUNT_TIMEZONE, new Date()), HUNT_TIMEZONE);
  world.talos.publish(week, '2021/0723.json');
  const slowHunt = world.xdr.faults.add({ match: /^\/iroh\/iroh-(enrich|inspect)/, latencyMs: 300 });
  // The schedule was armed a week ago (as if Sightline had run since), so the leader's missed-run
  // check finds this Friday's hunt missed and runs it; kills then land during that hunt.
  await migrate(pool);
  await pool.query(
    `UPDATE control_state SET doc = jsonb_set(doc, '{talos}', coalesce(doc->'talos', '{}'::jsonb) || jsonb_build_object('scheduleArmedAt', $1::text)), revision = revision + 1 WHERE id = 1`,
    [new Date(Date.now() - 8 * 86_400_000).toISOString()],
  );
  const startMs: number[] = [];
  for (const inst of instances) startMs.push(await inst.start(90_000));
  await assertRunningOnPostgres(run.cluster.url, instances);

  // Clients: each has a home instance and moves to the other while its home refuses connections.
  const sent = new SightingLedger({ idPrefix: 'pgrel', targets: opts.targets, rand });
  const ledger = sent.entries;
  let streaming = true;
  const client = async (c: number) => {
    let at = c % instances.length;
    while (streaming) {
      const outcome = await sent.send(c, instances[at]!.url);
      if (outcome === 'refused') {
        // Nobody listening there: certainly not received; the same ids go to the other instance.
        at = (at + 1) % instances.length;
        await sleep(20);
      } else if (outcome === 'unanswered') await sleep(20);
    }
  };
  const clients = Array.from({ length: opts.clients }, (_, i) => client(i));
  // An analyst asks for the open incidents every 1–3 s: Webex's webhook reaches whichever instance
  // the shared URL picks (and the other when that one refuses the connection).
  const analysts = world.webex.createRoomAsPerson('Crash analysts', [ANALYST]);
  const commands: SentCommand[] = [];
  const chatting = (async () => {
    while (streaming) {
      commands.push({ id: world.webex.postAsPerson(ANALYST, analysts.id, 'incidents', { mentionBot: true }).id, sentAt: Date.now() });
      await sleep(1000 + Math.floor(rand() * 2000));
    }
  })();

  const plan = killPlan(opts.eitherKills, opts.leaderKills);
  const takeovers: (number | undefined)[] = [];
  let huntKills = 0;
  const killTimes: number[] = [];
  let noLeaderToKill = 0;
  const waitMs = opts.takeoverWaitMs ?? 30_000;
  try {
    for (const [k, kind] of plan.entries()) {
      await sleep(200 + Math.floor(rand() * 1300));
      const victim = await pickVictim(instances, kind, rand);
      if (kind === 'leader' && !victim.leader) noLeaderToKill++;
      const wasLeader = victim.leader;
      const huntRunning = wasLeader && (await runningHunts(pool)) > 0;
      const killedAt = Date.now();
      killTimes.push(killedAt);
      await victim.stop('SIGKILL');
      if (huntRunning) huntKills++;
      if (wasLeader) {
        const survivors = instances.filter((i) => i !== victim);
        const took = await waitForLeader(survivors, killedAt, waitMs);
        takeovers.push(took);
        log(`  postgres-crash: kill ${k + 1}/${plan.length} (${kind}) ${victim.name}, the leader${huntRunning ? ' mid-hunt' : ''}; takeover ${took === undefined ? `none within ${waitMs} ms` : `${took} ms`}`);
      } else log(`  postgres-crash: kill ${k + 1}/${plan.length} (${kind}) ${victim.name}`);
      startMs.push(await victim.start(90_000));
    }
  } finally {
    slowHunt();
    await sleep(500);
    streaming = false;
    await Promise.all([...clients, chatting]);
  }
  const final = await settle(pool);
  const stops = await Promise.all(instances.map((i) => i.stop('SIGTERM')));

  // What the database holds.
  const stored = new Map<string, StoredSighting>();
  for (const row of (
    await pool.query<{ id: string; applied: boolean; counted: string }>(
      `SELECT s.id, s.applied_at IS NOT NULL AS applied, count(i.seq) AS counted
         FROM sightings s LEFT JOIN incident_sightings i ON i.seq = s.seq GROUP BY s.seq, s.id, s.applied_at`,
    )
  ).rows)
    stored.set(row.id, { applied: row.applied, counted: Number(row.counted) });
  const countsByHost = new Map((await pool.query<{ host: string; n: string }>('SELECT target_value AS host, sum(count) AS n FROM incidents GROUP BY target_value')).rows.map((x) => [x.host, Number(x.n)]));
  const twoOpen = (await pool.query<{ target_key: string; n: string }>('SELECT target_key, count(*) AS n FROM incidents WHERE closed_at IS NULL GROUP BY target_key HAVING count(*) > 1')).rows;
  const incidents = (await pool.query<{ id: string }>('SELECT id FROM incidents')).rows;
  const hunts = (await pool.query<HuntRow>(`SELECT id, trigger, week, source, status FROM ${HUNTS} ORDER BY started_at`)).rows;
  const verdict = judgeLedger(ledger, stored, countsByHost);
  const unanswered = [...ledger.values()].filter((e) => !e.acked && e.unanswered > 0).length;

  const kills = plan.length;
  const takeover = takeoverFigures(takeovers);
  r.figure('SIGKILLs (random instance / the leader)', `${opts.eitherKills} / ${opts.leaderKills}`);
  r.figure('leader kills while a hunt was running', huntKills);
  r.figure('sightings sent (distinct ids)', ledger.size);
  r.figure('acknowledged (202)', verdict.acked);
  r.figure('never acknowledged (no answer, not resent to success)', unanswered);
  r.figure('rows in the sightings table / counted into incidents', `${stored.size} / ${[...countsByHost.values()].reduce((a, b) => a + b, 0)}`);
  r.figure('takeover after a leader kill, median / max (ms)', takeover.count ? `${takeover.medianMs} / ${takeover.maxMs}` : 'none observed');
  r.figure('leader kills timed (incl. random kills that hit the leader)', takeovers.length);
  r.figure('restart time to /healthz, median / max (ms)', `${percentile(startMs, 50)} / ${Math.max(...startMs)}`);
  r.figure('requests answered per instance through the shared URL (webhooks)', [...run.proxy.served].map(([u, n]) => `${u}: ${n}`).join(', '));
  r.check('no acknowledged sighting lost (every 202 id has its sightings row)', verdict.lost.length === 0, verdict.lost.slice(0, 5).join(', '));
  r.check('every acknowledged sighting counted into an incident', verdict.unapplied.length === 0, verdict.unapplied.slice(0, 5).join(', '));
  r.check('no sighting counted twice (one incident_sightings row per id)', verdict.countedTwice.length === 0, verdict.countedTwice.slice(0, 5).join(', '));
  r.check('incident counts per target between the 202s and the 202s + unanswered', verdict.hostsUnder.length === 0 && verdict.hostsOver.length === 0, [...verdict.hostsUnder, ...verdict.hostsOver].slice(0, 3).join('; '));
  r.check('nothing stored that no request carried', verdict.unknownStored.length === 0, verdict.unknownStored.slice(0, 5).join(', '));
  r.check('one open incident per target', twoOpen.length === 0, twoOpen.map((t) => `${t.target_key} ×${t.n}`).join(', '));
  r.check('only 202, 503 or no answer from the sightings endpoint', sent.unexpected === 0, sent.unexpectedSamples.join(' | '));
  r.check('every sighting applied, XDR op and outbox item done, no hunt running at the end', final.settled, final.detail);
  r.check(`another instance took over after every leader kill within ${Math.round(waitMs / 1000)} s`, takeover.missed === 0 && takeover.count > 0, takeover.missed ? `${takeover.missed} of ${takeovers.length} without a takeover` : takeover.count === 0 ? 'no leader kill was timed' : undefined);
  r.check('takeover within 15 s (max)', takeover.count > 0 && takeover.maxMs <= 15_000, `max ${takeover.maxMs} ms`);
  if (noLeaderToKill > 0) r.finding(`${noLeaderToKill} leader kill(s) found no instance that had logged leadership and killed a random one instead.`);

  const repeated = weeklyHuntsRepeated(hunts);
  const weekly = hunts.filter((h) => h.trigger === 'schedule' || h.trigger === 'missed');
  r.figure('weekly hunts (schedule / missed-run) in the database', weekly.map((h) => `${h.source} ${h.week ?? ''} ${h.status}`).join(', ') || 'none');
  r.check('each weekly hunt run once (per week and source)', repeated.length === 0 && weekly.length > 0, repeated.join(', ') || (weekly.length === 0 ? 'no weekly hunt ran: the leader did not run the missed-run check' : undefined));
  r.check('every hunt finished', hunts.length > 0 && hunts.every((h) => h.status !== 'running'), hunts.map((h) => `${h.id}: ${h.status}`).join(', ') || 'no hunt at all');
  const casebooks = (world.xdr.state.casebook ?? []) as { external_ids?: string[] }[];
  const dupCasebooks = duplicateExternalIds(casebooks);
  r.figure('casebooks in XDR', casebooks.length);
  r.check('no duplicate casebook (per external id)', dupCasebooks.length === 0 && casebooks.length > 0, dupCasebooks.slice(0, 3).join(', ') || (casebooks.length === 0 ? 'no casebook at all' : undefined));
  const remote = (world.xdr.state.incident ?? []) as { external_ids?: string[] }[];
  const dupIncidents = duplicateExternalIds(remote, 'sightline-incident-');
  const mirrored = new Set(remote.flatMap((x) => x.external_ids ?? []));
  const missing = incidents.filter((i) => !mirrored.has(`sightline-incident-${i.id}`)).map((i) => i.id);
  r.figure('XDR incidents / local incidents', `${remote.length} / ${incidents.length}`);
  r.check('at most one XDR incident per local incident', dupIncidents.length === 0, dupIncidents.slice(0, 3).join(', '));
  r.check('every local incident mirrored to XDR', missing.length === 0, missing.slice(0, 3).join(', '));
  r.figure('XDR sightings posted twice for one sighting', duplicateExternalIds((world.xdr.state.sighting ?? []) as { external_ids?: string[] }[], 'sightline-sighting-').length);

  const repliesTo = new Map<string, number>();
  const answerMs: number[] = [];
  const sentAt = new Map(commands.map((c) => [c.id, c.sentAt]));
  for (const m of world.webex.messages(analysts.id)) {
    if (!m.parentId || m.personId !== world.webex.bot.id) continue;
    repliesTo.set(m.parentId, (repliesTo.get(m.parentId) ?? 0) + 1);
    const asked = sentAt.get(m.parentId);
    if (asked !== undefined) answerMs.push(Date.parse(m.created) - asked);
  }
  const chat = judgeCommands(commands, repliesTo, killTimes, COMMAND_GRACE_MS);
  r.figure('chat commands sent / answered once / lost with a killed instance', `${chat.sent} / ${chat.answeredOnce} / ${chat.lostToKills}`);
  r.figure('chat answer time, median / max (ms)', answerMs.length ? `${percentile(answerMs, 50)} / ${Math.max(...answerMs)}` : 'none answered');
  r.figure('lost commands: ms from the command to the next kill', chat.lostMsBeforeKill.join(', ') || 'none');
  const silent = commands.filter((c) => (repliesTo.get(c.id) ?? 0) === 0);
  r.figure('unanswered commands: where the webhook went', silent.map((c) => `${new Date(c.sentAt).toISOString().slice(11, 23)} → ${describeWebhook(run.webhooks.get(c.id))}`).join('; ') || 'none');
  for (const c of silent) {
    const port = run.webhooks.get(c.id)?.port;
    const around = run.chatLogs.filter((l) => l.port === port && l.at >= c.sentAt - 1_000 && l.at <= c.sentAt + 5_000 && !/sighting|outbox|xdr/i.test(l.text)).slice(0, 8);
    log(`  postgres-crash: unanswered command ${c.id.slice(-16)} (${describeWebhook(run.webhooks.get(c.id))}); that instance's log: ${around.map((l) => l.text).join(' | ') || 'nothing'}`);
  }
  r.check('no chat command answered twice', chat.answeredTwice.length === 0, chat.answeredTwice.slice(0, 3).join(', ') || undefined);
  r.check(`every chat command answered, unless an instance was killed within ${COMMAND_GRACE_MS / 1000} s of it`, chat.sent > 0 && chat.unansweredAwayFromKills.length === 0, chat.sent === 0 ? 'no command sent' : chat.unansweredAwayFromKills.length ? `${chat.unansweredAwayFromKills.length} unanswered, e.g. ${chat.unansweredAwayFromKills[0]}` : undefined);

  const rooms = world.webex.rooms().map((room) => ({ title: room.title, ...duplicateCards(world, room.title) }));
  const repeatedMessages = rooms.reduce((n, x) => n + x.duplicates.length, 0);
  r.figure('bot messages / repeated', `${rooms.reduce((n, x) => n + x.total, 0)} / ${repeatedMessages}`);
  r.check('at most one chat message repeated per kill', repeatedMessages <= kills, rooms.flatMap((x) => x.duplicates.map((d) => `${x.title}: ${d}`)).slice(0, 3).join(' | ') || undefined);
  r.check('both instances exit 0 on SIGTERM within 10 s', stops.every((s) => s.code === 0 && s.ms <= 10_000), stops.map((s) => `code ${s.code}, ${s.ms} ms`).join('; '));
}

async function pickVictim(instances: SightlineInstance[], kind: KillKind, rand: () => number): Promise<SightlineInstance> {
  if (kind === 'leader') {
    for (let i = 0; i < 300; i++) {
      const leader = instances.find((x) => x.leader && x.running);
      if (leader) return leader;
      await sleep(100);
    }
  }
  const running = instances.filter((x) => x.running);
  return running[Math.floor(rand() * running.length)] ?? instances[0]!;
}

/** Ms from `since` until one of `candidates` logs that it leads; undefined after `waitMs`. */
async function waitForLeader(candidates: SightlineInstance[], since: number, waitMs: number): Promise<number | undefined> {
  const deadline = since + waitMs;
  while (Date.now() < deadline) {
    const elected = candidates.find((c) => c.leader && (c.electedAt ?? 0) >= since);
    if (elected) return elected.electedAt! - since;
    await sleep(50);
  }
  return undefined;
}

/** The hunt records, from the control document (PostgresControlStore) as rows. */
const HUNTS = `(SELECT h->>'id' AS id, h->>'trigger' AS trigger, h->>'week' AS week, coalesce(h->>'source', 'roundup') AS source, h->>'status' AS status, h->>'startedAt' AS started_at FROM control_state, jsonb_array_elements(control_state.doc->'hunts') AS h) AS hunts`;

async function runningHunts(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${HUNTS} WHERE status = 'running'`);
  return Number(rows[0]?.n ?? 0);
}

/** Waits until nothing is left to do: sightings applied, XDR ops and outbox empty, no hunt running, stable for 1.5 s. */
async function settle(pool: pg.Pool, timeoutMs = 180_000): Promise<{ settled: boolean; detail?: string }> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  let stableSince = Date.now();
  while (Date.now() < deadline) {
    const { rows } = await pool.query<{ unapplied: string; ops: string; outbox: string; running: string; counted: string }>(
      `SELECT (SELECT count(*) FROM sightings WHERE applied_at IS NULL) AS unapplied, (SELECT count(*) FROM xdr_ops) AS ops,
              (SELECT count(*) FROM outbox) AS outbox, (SELECT count(*) FROM ${HUNTS} WHERE status = 'running') AS running,
              (SELECT coalesce(sum(count), 0) FROM incidents) AS counted`,
    );
    const s = rows[0]!;
    const sig = JSON.stringify(s);
    if (sig !== last) {
      last = sig;
      stableSince = Date.now();
    } else if (s.unapplied === '0' && s.ops === '0' && s.outbox === '0' && s.running === '0' && Date.now() - stableSince > 1500) return { settled: true };
    await sleep(250);
  }
  return { settled: false, detail: `still busy after ${Math.round(timeoutMs / 1000)} s: ${last}` };
}
