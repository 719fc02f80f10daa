import { Pool } from 'undici';
import { buildDemoScenario } from '../src/emulators/xdr/index.js';
import { SANDBOX_SIGHTINGS_SECRET } from '../src/sandbox/world.js';
import { signedSightingsHeaders } from '../src/transport/http/sightings/auth.js';
import { SIGHTINGS_PATH } from '../src/transport/http/sightings/route.js';
import { roundupUrl, startBenchBot, type BenchBot } from './bot.js';
import { payloadFor } from './load.js';
import { table, type BenchResult, type TargetCheck } from './report.js';
import { loadRoundup, ROUNDUP_FILES, SMALLEST } from './roundups.js';
import { fmt } from './stats.js';

/**
 * Benchmark 3: how many Webex messages the bot posts per hunt and per 1,000
 * sightings (coalescing), counted by the Webex emulator, and the most posted in
 * any 60 s window against WEBEX_MAX_MESSAGES_PER_MINUTE.
 */
const MAX_PER_MINUTE = 60; // the product default

export async function benchChat(o: { quick: boolean }): Promise<BenchResult> {
  const perMinute = o.quick ? 600 : MAX_PER_MINUTE;
  // Two separate bots (each with its own post throttle) side by side: the throttle makes each part take minutes.
  const [hunts, sightings] = await Promise.all([
    huntMessages(o.quick ? [SMALLEST] : ROUNDUP_FILES, perMinute),
    sightingMessages({ count: o.quick ? 100 : 1000, targets: o.quick ? 5 : 20, spreadMs: o.quick ? 500 : 3000, perMinute, coalesceMs: o.quick ? 500 : 5000 }),
  ]);
  const worstWindow = Math.max(hunts.maxWindow, sightings.maxWindow);
  const targets: TargetCheck[] = [
    { what: 'messages in any 60 s window', target: `≤ WEBEX_MAX_MESSAGES_PER_MINUTE (${perMinute})`, measured: String(worstWindow), met: worstWindow <= perMinute },
  ];
  const markdown = [
    `The whole bot in-process (src/app.ts) against the emulated world, Webex in webhook mode, WEBEX_MAX_MESSAGES_PER_MINUTE=${perMinute}, CORRELATION_COALESCE_MS=${o.quick ? 500 : 5000}, the default ladder ` +
      '(`eq 2 -> notify; gte 3 -> mention; gte 5 -> respond`). Messages are counted in the Webex emulator; the 60 s windows are slid over the emulator\'s `created` timestamps of every message the bot posted.',
    '',
    '### Per hunt (demo XDR scenario: every other threat has a sighted host)',
    '',
    table(['roundup', 'threats', 'threats with targets', 'messages posted in the hunt room', 'of which cards'], hunts.rows),
    '',
    `### Per ${fmt(sightings.count)} sightings`,
    '',
    `${fmt(sightings.count)} sightings (7-field payload, one per request) for ${sightings.targets} targets that had no incident, posted over ${sightings.spreadMs / 1000} s; then the bot is left to finish (coalescing timers, ladder, outbox).`,
    '',
    table(
      ['sightings', 'targets', 'messages to the incidents room', 'per 1,000 sightings', 'incidents opened', 'most in any 60 s', 'time until the last message'],
      [[fmt(sightings.count), String(sightings.targets), String(sightings.messages), fmt((sightings.messages / sightings.count) * 1000, 1), String(sightings.incidents), String(sightings.maxWindow), `${fmt(sightings.lastMessageMs / 1000, 1)} s`]],
    ),
    '',
    `Most messages the bot posted in any 60 s window (emulator clock): hunts ${hunts.maxWindow}, sightings ${sightings.maxWindow} (limit ${perMinute}). ` +
      `Tightest span of ${perMinute + 1} consecutive messages: hunts ${span(hunts.tightest)}, sightings ${span(sightings.tightest)}.`,
  ].join('\n');
  return { name: 'chat', title: '3. Chat', markdown, targets };
}

function span(ms: number | undefined): string {
  return ms === undefined ? 'n/a (fewer messages)' : `${fmt(ms / 1000, 3)} s`;
}

/** Shortest time covering `n` consecutive messages: below 60 s means more than n−1 fell in one minute. */
function tightestSpan(times: number[], n: number): number | undefined {
  const t = [...times].sort((a, b) => a - b);
  let best: number | undefined;
  for (let i = 0; i + n - 1 < t.length; i++) best = Math.min(best ?? Infinity, t[i + n - 1]! - t[i]!);
  return best;
}

async function huntMessages(files: string[], perMinute: number): Promise<{ rows: string[][]; maxWindow: number; tightest?: number }> {
  const bot = await startBenchBot({ WEBEX_MAX_MESSAGES_PER_MINUTE: String(perMinute) });
  const rows: string[][] = [];
  const times: number[] = [];
  try {
    for (const file of files) {
      const r = await loadRoundup(file);
      bot.world.xdr.setScenario(buildDemoScenario(r.roundup.threats));
      const room = bot.world.webex.rooms().find((x) => x.title === bot.app.config.webex.huntRoom);
      const before = room ? bot.world.webex.messages(room.id).length : 0;
      const started = await bot.app.hunts.runUri(roundupUrl(bot.world, file), 'bench');
      if (!started.started) throw new Error(`hunt of ${file} did not start`);
      await bot.app.hunts.idle();
      await bot.app.outbox.drain();
      const huntRoom = bot.world.webex.rooms().find((x) => x.title === bot.app.config.webex.huntRoom);
      const posted = huntRoom ? bot.world.webex.messages(huntRoom.id).slice(before) : [];
      const withTargets = r.roundup.threats.filter((_, i) => i % 2 === 0).length;
      rows.push([file, String(r.roundup.threats.length), `≤ ${withTargets}`, String(posted.length), String(posted.filter((m) => m.attachments?.length).length)]);
    }
    times.push(...botMessageTimes(bot));
  } finally {
    await bot.stop();
  }
  const tightest = tightestSpan(times, perMinute + 1);
  return { rows, maxWindow: maxInWindow(times, 60_000), ...(tightest !== undefined ? { tightest } : {}) };
}

interface SightingFigures {
  count: number;
  targets: number;
  spreadMs: number;
  messages: number;
  incidents: number;
  maxWindow: number;
  lastMessageMs: number;
  tightest?: number;
}

async function sightingMessages(o: { count: number; targets: number; spreadMs: number; perMinute: number; coalesceMs: number }): Promise<SightingFigures> {
  const bot = await startBenchBot({ WEBEX_MAX_MESSAGES_PER_MINUTE: String(o.perMinute), CORRELATION_COALESCE_MS: String(o.coalesceMs), HTTP_RATE_LIMIT_PER_MINUTE: '1000000' });
  const hosts = Array.from({ length: o.targets }, (_, i) => `chat-host-${i}`);
  const pool = new Pool(bot.app.http.url, { connections: 4 });
  try {
    const t0 = Date.now();
    const bursts = 10;
    for (let b = 0; b < bursts; b++) {
      const from = Math.floor((b * o.count) / bursts);
      const to = Math.floor(((b + 1) * o.count) / bursts);
      await Promise.all(
        Array.from({ length: to - from }, async (_, k) => {
          const n = from + k;
          const body = payloadFor('chat', n, hosts[n % hosts.length]!);
          const res = await pool.request({ method: 'POST', path: SIGHTINGS_PATH, headers: { 'content-type': 'application/json', ...signedSightingsHeaders(SANDBOX_SIGHTINGS_SECRET, body) }, body });
          await res.body.text();
          if (res.statusCode !== 202) throw new Error(`sighting ${n} answered ${res.statusCode}`);
        }),
      );
      await new Promise((r) => setTimeout(r, o.spreadMs / bursts));
    }
    await bot.app.intake.idle();
    await new Promise((r) => setTimeout(r, o.coalesceMs + 500));
    await bot.app.engine.flushCoalesced();
    await bot.app.outbox.drain();
    const room = bot.world.webex.rooms().find((x) => x.title === bot.app.config.webex.incidentsRoom);
    const posted = room ? bot.world.webex.messages(room.id) : [];
    const times = botMessageTimes(bot);
    return {
      count: o.count,
      targets: o.targets,
      spreadMs: o.spreadMs,
      messages: posted.length,
      incidents: Object.keys(bot.app.engine.state().incidents).length,
      maxWindow: maxInWindow(times, 60_000),
      lastMessageMs: times.length ? Math.max(...times) - t0 : 0,
      ...(tightestSpan(times, o.perMinute + 1) !== undefined ? { tightest: tightestSpan(times, o.perMinute + 1)! } : {}),
    };
  } finally {
    await pool.close();
    await bot.stop();
  }
}

/** When the bot posted each of its messages, in every room (the throttle covers all of them). */
function botMessageTimes(bot: BenchBot): number[] {
  const { webex } = bot.world;
  return webex
    .rooms()
    .flatMap((r) => webex.messages(r.id))
    .filter((m) => m.personId === webex.bot.id)
    .map((m) => Date.parse(m.created));
}

/** Most timestamps inside any window of `windowMs` (sliding, two pointers). */
export function maxInWindow(times: number[], windowMs: number): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; j < t.length; j++) {
    while (t[j]! - t[i]! >= windowMs) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}
