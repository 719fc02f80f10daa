import { percentile } from './support.js';

/**
 * The PostgreSQL crash suite's judgement over what it collected, kept apart from the processes
 * and the database so each rule is unit-tested (test/reliability/postgres-crash-checks.test.ts).
 */

export type KillKind = 'either' | 'leader';

/**
 * The order of the kills: `either` kills (a random running instance) and `leader` kills, spread
 * evenly (a leader kill every few kills, not all at the end), deterministic for a seed.
 */
export function killPlan(either: number, leader: number): KillKind[] {
  const total = either + leader;
  const plan: KillKind[] = [];
  let placed = 0;
  for (let k = 0; k < total; k++) {
    // Place leader kill i at about (i + 0.5) * total / leader.
    const due = leader > 0 ? Math.floor(((placed + 0.5) * total) / leader) : Infinity;
    if (placed < leader && k >= due) {
      plan.push('leader');
      placed++;
    } else plan.push('either');
  }
  // Rounding can leave the last leader kills unplaced: turn trailing `either` kills into them.
  for (let k = total - 1; placed < leader && k >= 0; k--) {
    if (plan[k] === 'either') {
      plan[k] = 'leader';
      placed++;
    }
  }
  return plan;
}

export type { LedgerEntry } from './ledger.js';
import type { LedgerEntry } from './ledger.js';

/** What the database says about one sender id: its row in `sightings`, and how many incidents counted it. */
export interface StoredSighting {
  applied: boolean;
  /** incident_sightings rows with its seq (1 = counted once). */
  counted: number;
}

export interface LedgerVerdict {
  acked: number;
  /** Acked ids with no row in `sightings` (lost after the 202). */
  lost: string[];
  /** Acked ids stored but never applied into an incident. */
  unapplied: string[];
  /** Any id counted into incidents more than once. */
  countedTwice: string[];
  /** Ids in the database that no request carried (should be none). */
  unknownStored: string[];
  /** Per target: incident counts vs acked (+ unanswered) ids. */
  hostsUnder: string[];
  hostsOver: string[];
}

/**
 * Every acked id has its row and is counted exactly once; nothing is counted that no request
 * carried; and per target the incidents' counts lie between the acked ids and acked + unanswered
 * (an unanswered request may or may not have been committed).
 */
export function judgeLedger(ledger: ReadonlyMap<string, LedgerEntry>, stored: ReadonlyMap<string, StoredSighting>, countsByHost: ReadonlyMap<string, number>): LedgerVerdict {
  const v: LedgerVerdict = { acked: 0, lost: [], unapplied: [], countedTwice: [], unknownStored: [], hostsUnder: [], hostsOver: [] };
  const perHost = new Map<string, { acked: number; maybe: number }>();
  for (const [id, e] of ledger) {
    const h = perHost.get(e.host) ?? perHost.set(e.host, { acked: 0, maybe: 0 }).get(e.host)!;
    const s = stored.get(id);
    if (e.acked) {
      v.acked++;
      h.acked++;
      if (!s) v.lost.push(id);
      else if (!s.applied || s.counted === 0) v.unapplied.push(id);
    } else if (e.unanswered > 0) h.maybe++;
    if (s && s.counted > 1) v.countedTwice.push(id);
  }
  for (const id of stored.keys()) if (!ledger.has(id)) v.unknownStored.push(id);
  for (const host of new Set([...perHost.keys(), ...countsByHost.keys()])) {
    const h = perHost.get(host) ?? { acked: 0, maybe: 0 };
    const counted = countsByHost.get(host) ?? 0;
    if (counted < h.acked) v.hostsUnder.push(`${host}: counted ${counted} < acked ${h.acked}`);
    if (counted > h.acked + h.maybe) v.hostsOver.push(`${host}: counted ${counted} > acked ${h.acked} + unanswered ${h.maybe}`);
  }
  return v;
}

export interface HuntRow {
  id: string;
  trigger: string;
  week: string | null;
  source: string;
  status: string;
}

/** Weekly (schedule / missed-run) hunts run more than once for one week and source. */
export function weeklyHuntsRepeated(hunts: readonly HuntRow[]): string[] {
  const per = new Map<string, number>();
  for (const h of hunts) {
    if (h.trigger !== 'schedule' && h.trigger !== 'missed') continue;
    if (h.status === 'not_published') continue;
    const key = `${h.source} ${h.week ?? '(no week)'}`;
    per.set(key, (per.get(key) ?? 0) + 1);
  }
  return [...per].filter(([, n]) => n > 1).map(([k, n]) => `${k} ×${n}`);
}

/** Casebooks per external id in XDR, the ones made more than once. */
export function duplicateExternalIds(entities: readonly { external_ids?: string[] }[], prefix = ''): string[] {
  const per = new Map<string, number>();
  for (const e of entities) for (const ext of e.external_ids ?? []) if (ext.startsWith(prefix)) per.set(ext, (per.get(ext) ?? 0) + 1);
  return [...per].filter(([, n]) => n > 1).map(([k, n]) => `${k}×${n}`);
}

export interface TakeoverFigures {
  count: number;
  medianMs: number;
  maxMs: number;
  /** Leader kills after which no instance took over within the wait. */
  missed: number;
}

/** Takeover times (ms from the leader's SIGKILL to another instance's election line); undefined = none within the wait. */
export function takeoverFigures(samples: readonly (number | undefined)[]): TakeoverFigures {
  const got = samples.filter((s): s is number => s !== undefined);
  return { count: got.length, medianMs: percentile(got, 50), maxMs: got.length ? Math.max(...got) : 0, missed: samples.length - got.length };
}

/** A chat command an analyst sent during the run: its message id, and when. */
export interface SentCommand {
  id: string;
  sentAt: number;
}

export interface CommandVerdict {
  sent: number;
  answeredOnce: number;
  /** Commands with more than one answer (their ids). */
  answeredTwice: string[];
  /** Commands without an answer although no instance was killed in the `graceMs` after they were sent (their ids). */
  unansweredAwayFromKills: string[];
  /** Commands without an answer with a kill in that window: the webhook reached the instance that died (Webex does not redeliver). */
  lostToKills: number;
  /** For each of those, ms from the command to the first kill after it. */
  lostMsBeforeKill: number[];
}

/**
 * Chat commands through Webex's webhooks, which reach whichever instance the shared URL picks:
 * each must be answered once (the reply threads under it, so replies are counted per command), and
 * only a kill soon after a command excuses a missing answer.
 */
export function judgeCommands(commands: readonly SentCommand[], repliesTo: ReadonlyMap<string, number>, killTimes: readonly number[], graceMs: number): CommandVerdict {
  const verdict: CommandVerdict = { sent: commands.length, answeredOnce: 0, answeredTwice: [], unansweredAwayFromKills: [], lostToKills: 0, lostMsBeforeKill: [] };
  for (const c of commands) {
    const answers = repliesTo.get(c.id) ?? 0;
    const nextKill = Math.min(...killTimes.filter((t) => t >= c.sentAt));
    if (answers === 1) verdict.answeredOnce++;
    else if (answers > 1) verdict.answeredTwice.push(c.id);
    else if (nextKill - c.sentAt <= graceMs) {
      verdict.lostToKills++;
      verdict.lostMsBeforeKill.push(nextKill - c.sentAt);
    } else verdict.unansweredAwayFromKills.push(c.id);
  }
  return verdict;
}
