import type { NewMessage, WebexApi, WebexMessage } from '../src/clients/webex/port.js';
import { replyReserve } from '../src/clients/webex/throttle.js';
import { FakeClock } from '../src/core/clock.js';
import { silentLogger } from '../src/core/logger.js';
import type { IncidentView, Notification } from '../src/notify/notification.js';
import { Outbox } from '../src/notify/outbox.js';
import { stormPolicyFor } from '../src/notify/storm.js';
import { WebexChannel } from '../src/notify/webex-channel.js';
import { emptyState, type State } from '../src/store/state.js';
import type { Store } from '../src/store/store.js';
import { table, type BenchResult, type TargetCheck } from './report.js';
import { fmt } from './stats.js';

/**
 * Benchmark: an alert storm (issue 13), storm mode side by side with today's design
 * (STORM_MODE=false). The real Outbox and WebexChannel (renderers included) run on a fake
 * clock, one simulated second per step, and Webex takes notifications at their share of
 * WEBEX_MAX_MESSAGES_PER_MINUTE (50 of 60: the rest is kept for chat replies), at most one post a
 * step: hours of chat are simulated in seconds. The notifications are
 * the ones the correlation engine sends for this storm (CORRELATION_COALESCE_MS=5000, the
 * default ladder): per target an opened card, rung messages at 2 (notify), 3 (mention) and
 * 5 (respond) sightings, and one coalesced count update. Storm mode lives in the outbox, after
 * the engine: counts, XDR mirroring, response actions and `incidents` are the same in both rows
 * by construction (the engine and store are not involved here).
 */
const PER_MINUTE = 60;
/** What notifications get of the limit: the rest is kept for chat replies (clients/webex/throttle.ts). */
const NOTIFICATIONS_PER_MINUTE = PER_MINUTE - replyReserve(PER_MINUTE);
const COALESCE_S = 5;
const STEP_S = 1;
const INCIDENTS_ROOM = 'Sightline Incidents';

interface Sim {
  targets: number;
  stormSeconds: number;
  sightingsEach: number;
  /** One target gets this many sightings: the storm's top incident. */
  topSightings: number;
  /** Give up (and say so) after this much simulated time. */
  maxSeconds: number;
}

interface Row {
  design: string;
  first10Min: number;
  toTopCardS: number | undefined;
  quietAfterS: number | undefined;
  total: number;
  simulatedS: number;
  leftQueued: number;
  deadLetters: number;
}

class MemoryStore implements Store {
  writable = true;
  private readonly state: State = emptyState();
  get(): Readonly<State> {
    return this.state;
  }
  async update<T>(mutate: (s: State) => T): Promise<T> {
    return mutate(this.state);
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

/** Webex at its rate: a post waits for the next free slot the simulation hands out. */
class SlottedWebex {
  readonly posts: { at: number; roomId: string; text: string }[] = [];
  private release: (() => void) | undefined;
  waiting = false;
  constructor(private readonly clock: FakeClock) {}
  grant(): boolean {
    const r = this.release;
    if (!r) return false;
    this.release = undefined;
    r();
    return true;
  }
  async postMessage(msg: NewMessage): Promise<WebexMessage> {
    this.waiting = true;
    await new Promise<void>((resolve) => (this.release = resolve));
    this.waiting = false;
    const text = `${msg.markdown ?? ''}\n${msg.attachments ? JSON.stringify(msg.attachments[0]?.content) : ''}`;
    this.posts.push({ at: this.clock.now().getTime(), roomId: msg.roomId ?? '', text });
    return { id: `msg-${this.posts.length}`, roomId: msg.roomId ?? '', personId: 'bot', personEmail: 'bot@webex.bot', created: this.clock.now().toISOString() };
  }
}

function view(i: number, count: number, firstSeenMs: number, lastSeenMs: number): IncidentView {
  const target = `storm-host-${String(i).padStart(4, '0')}`;
  return {
    id: `incident-${i}`, targetKey: `hostname:${target}`, targetType: 'hostname', targetValue: target, count, status: 'New',
    firstSeen: new Date(firstSeenMs).toISOString(), lastSeen: new Date(lastSeenMs).toISOString(), rungsFired: [],
  };
}

/** What the engine sends, per simulated second: sightings spread over the storm, coalesced updates, ladder rungs. */
function engineSchedule(sim: Sim, t0: number): { events: Map<number, Notification[]>; top: { target: string; firstSightingS: number }; lastSightingS: number } {
  const events = new Map<number, Notification[]>();
  const at = (s: number, n: Notification) => {
    const key = Math.floor(s);
    const list = events.get(key) ?? [];
    list.push(n);
    events.set(key, list);
  };
  const topIndex = Math.floor(sim.targets / 2);
  let lastSightingS = 0;
  const rungs: [number, string, string, string[]?][] = [[2, 'eq 2', 'notify'], [3, 'gte 3', 'mention', ['oncall@example.com']], [5, 'gte 5', 'respond (isolate requested)']];
  for (let i = 0; i < sim.targets; i++) {
    const firstS = (i * sim.stormSeconds) / sim.targets;
    const each = i === topIndex ? sim.topSightings : sim.sightingsEach;
    // Sightings of one target arrive half a second apart.
    const times = Array.from({ length: each }, (_, k) => firstS + k * 0.5);
    lastSightingS = Math.max(lastSightingS, times.at(-1)!);
    const ms = (s: number) => t0 + s * 1000;
    at(firstS, { kind: 'incident_opened', incident: view(i, 1, ms(firstS), ms(firstS)) });
    for (const [count, rung, action, mention] of rungs) {
      if (count > each) continue;
      const s = times[count - 1]!;
      at(s, { kind: 'rung_fired', incident: view(i, count, ms(firstS), ms(s)), rung, action, dryRun: false, ...(mention ? { mention } : {}) });
    }
    // The engine flushes a target's buffered sightings every CORRELATION_COALESCE_MS.
    for (let flush = firstS + COALESCE_S, done = 1; done < each; flush += COALESCE_S) {
      const upTo = times.filter((s) => s <= flush).length;
      if (upTo > done) {
        at(flush, { kind: 'incident_updated', incident: view(i, upTo, ms(firstS), ms(times[upTo - 1]!)), newSightings: upTo - done, crossed: [], replyTo: undefined });
        done = upTo;
      }
    }
  }
  return { events, top: { target: view(topIndex, 0, 0, 0).targetValue, firstSightingS: (topIndex * sim.stormSeconds) / sim.targets }, lastSightingS };
}

async function settle(webex: SlottedWebex, outbox: Outbox): Promise<void> {
  // Let the outbox run until it waits for Webex or has nothing to do (bounded).
  for (let k = 0; k < 2000 && !webex.waiting; k++) {
    await new Promise((r) => setImmediate(r));
    if (k > 5 && !webex.waiting && outbox.pending() === 0) break;
  }
}

async function runDesign(sim: Sim, storm: boolean): Promise<Row> {
  const clock = new FakeClock('2026-11-20T08:00:00Z');
  const t0 = clock.now().getTime();
  const webex = new SlottedWebex(clock);
  const channel = new WebexChannel({
    api: webex as unknown as WebexApi,
    rooms: { ensureRoom: async (title) => `room:${title}` },
    huntRoom: 'TALOS ROUNDUP Investigation',
    incidentsRoom: INCIDENTS_ROOM,
    logger: silentLogger,
  });
  const policy = storm ? stormPolicyFor({ messagesPerMinute: NOTIFICATIONS_PER_MINUTE, thresholdMinutes: 3, digestSeconds: 60 }) : undefined;
  const outbox = new Outbox(new MemoryStore(), [channel], clock, silentLogger, undefined, policy);
  outbox.start();
  const { events, top, lastSightingS } = engineSchedule(sim, t0);
  let s = 0;
  let quietSince: number | undefined;
  for (; s < sim.maxSeconds; s += STEP_S) {
    clock.set(new Date(t0 + s * 1000));
    for (const n of events.get(s) ?? []) await outbox.notify(n);
    outbox.kick();
    await settle(webex, outbox);
    // NOTIFICATIONS_PER_MINUTE posts a simulated minute, spread evenly (50 of every 60 steps at the defaults).
    if (Math.floor(((s + STEP_S) * NOTIFICATIONS_PER_MINUTE) / 60) > Math.floor((s * NOTIFICATIONS_PER_MINUTE) / 60) && webex.grant()) await settle(webex, outbox);
    const done = s > lastSightingS && outbox.pending() === 0 && !webex.waiting && !outbox.inStorm('webex', INCIDENTS_ROOM);
    if (done) {
      quietSince ??= s;
      // A few quiet seconds more, to be sure nothing else was coming.
      if (s - quietSince >= 5) break;
    } else quietSince = undefined;
  }
  await outbox.stop();
  const room = webex.posts.filter((p) => p.roomId === `room:${INCIDENTS_ROOM}`);
  const sec = (p: { at: number }) => (p.at - t0) / 1000;
  const firstTop = room.find((p) => p.text.includes(top.target));
  const last = room.at(-1);
  return {
    design: storm ? 'storm mode (STORM_MODE=true, 60 s digests)' : "today's design (STORM_MODE=false)",
    first10Min: room.filter((p) => sec(p) < 600).length,
    toTopCardS: firstTop ? sec(firstTop) - top.firstSightingS : undefined,
    quietAfterS: quietSince !== undefined && last ? Math.max(0, sec(last) - lastSightingS) : undefined,
    total: room.length,
    simulatedS: s,
    leftQueued: outbox.pending(),
    deadLetters: outbox.deadLetters().length,
  };
}

export async function benchStorm(o: { quick: boolean }): Promise<BenchResult> {
  const sim: Sim = o.quick
    ? { targets: 300, stormSeconds: 60, sightingsEach: 10, topSightings: 50, maxSeconds: 1800 }
    : { targets: 2000, stormSeconds: 60, sightingsEach: 10, topSightings: 50, maxSeconds: 4 * 3600 };
  const started = performance.now();
  const [stormRow, oldRow] = [await runDesign(sim, true), await runDesign(sim, false)];
  const wallS = (performance.now() - started) / 1000;
  const secs = (v: number | undefined, cap: number) => (v === undefined ? `> ${fmt(cap)} s (not reached)` : `${fmt(Math.round(v))} s`);
  const rows = [stormRow, oldRow].map((r) => [
    r.design,
    fmt(r.first10Min),
    secs(r.toTopCardS, sim.maxSeconds),
    r.quietAfterS === undefined ? `> ${fmt(Math.round(sim.maxSeconds / 60))} min (${fmt(r.leftQueued)} still queued)` : `${fmt(Math.round(r.quietAfterS))} s`,
    fmt(r.total),
    fmt(r.deadLetters),
  ]);
  const targets: TargetCheck[] = [
    { what: 'messages to the incidents room in the first 10 minutes', target: '≤ 15', measured: `${stormRow.first10Min} (today: ${fmt(oldRow.first10Min)})`, met: stormRow.first10Min <= 15 },
    { what: "first message naming the storm's top incident, after its first sighting", target: '≤ 60 s', measured: `${secs(stormRow.toTopCardS, sim.maxSeconds)} (today: ${secs(oldRow.toTopCardS, sim.maxSeconds)})`, met: stormRow.toTopCardS !== undefined && stormRow.toTopCardS <= 60 },
    { what: 'room quiet (storm over, nothing queued) after the last sighting', target: '≤ 5 min', measured: stormRow.quietAfterS === undefined ? 'not reached' : `${Math.round(stormRow.quietAfterS)} s`, met: stormRow.quietAfterS !== undefined && stormRow.quietAfterS <= 300 },
    { what: 'nothing lost: queue empty, no dead letters', target: '0 / 0', measured: `${stormRow.leftQueued} / ${stormRow.deadLetters}`, met: stormRow.leftQueued === 0 && stormRow.deadLetters === 0 },
  ];
  const markdown = [
    `A storm of ${fmt(sim.targets)} new targets in ${sim.stormSeconds} s, ${sim.sightingsEach} sightings each half a second apart (one target, the storm's top incident, gets ${sim.topSightings}), ` +
      `CORRELATION_COALESCE_MS=${COALESCE_S * 1000}, the default ladder, WEBEX_MAX_MESSAGES_PER_MINUTE=${PER_MINUTE} (${NOTIFICATIONS_PER_MINUTE} a minute for notifications, the rest kept for chat replies), STORM_THRESHOLD_MINUTES=3, STORM_DIGEST_SECONDS=60. ` +
      `Simulated on a fake clock (the real Outbox, WebexChannel and card renderers; Webex takes at most one post a simulated second, ${NOTIFICATIONS_PER_MINUTE} a minute), both designs in the same run, ` +
      `${fmt(Math.round(wallS))} s of wall time for both. Today's design was simulated up to ${fmt(sim.maxSeconds / 3600)} h. ` +
      'Storm mode sits in the outbox, after the correlation engine: incident counts, XDR mirroring, response actions and `incidents` are identical in both rows (not part of this simulation; the engine and store are untouched by storm mode).',
    '',
    table(['design', 'messages to the incidents room, first 10 min', "top incident named, after its first sighting", 'room quiet after the last sighting', 'messages in all', 'dead letters'], rows),
  ].join('\n');
  return { name: 'storm', title: '6. Alert storm', markdown, targets };
}
