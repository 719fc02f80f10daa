import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { parseLadder } from '../src/domain/correlation/ladder.js';
import type { Incident, SightingRecord } from '../src/domain/correlation/types.js';
import { targetIdentity } from '../src/domain/investigate/target-identity.js';
import type { SightingTarget } from '../src/domain/types.js';
import { DedupeIndex } from '../src/store/journal/journal.js';
import { emptyState } from '../src/store/state.js';

/**
 * Builds a store of a given size WITHOUT going through HTTP: the state file the
 * bot would have after `sightings` sightings on `incidents` targets (bounded per
 * incident, as the correlator keeps it), plus a journal compacted up to that point
 * (floor header + the remembered dedupe keys). Writing 1M sightings through the API
 * to prepare would take longer than the benchmark itself.
 */
export interface StoreSize {
  incidents: number;
  sightings: number;
}

export const SOURCE = 'AMP for Endpoints';
const CLOSED_SHARE = 500; // MAX_CLOSED_INCIDENTS: the correlator prunes beyond this, so a real store holds no more.
const LADDER = 'eq 2 -> notify; gte 3 -> mention; gte 5 -> respond';
/** Sender ids remembered in the journal header (the dedupe LRU's default capacity). */
const REMEMBERED_KEYS = 200_000;

export function hostOf(i: number): string {
  return `bench-host-${String(i).padStart(7, '0')}`;
}

export function targetOf(host: string): SightingTarget {
  return { type: 'endpoint', observables: [{ type: 'hostname', value: host }] } as SightingTarget;
}

export function iocOf(i: number): { type: string; value: string } {
  return { type: 'domain', value: `ioc-${i % 5000}.bench.example` };
}

const BASE_TIME = Date.parse('2026-01-05T08:00:00.000Z');

function record(seq: number, inc: number, k: number): SightingRecord {
  return { seq, observedAt: new Date(BASE_TIME + inc * 1000 + k * 60_000).toISOString(), ioc: iocOf(inc + k), source: SOURCE };
}

function buildIncident(i: number, perIncident: number, firstSeq: number, ladderLabels: string[], closedCount: number): Incident {
  const host = hostOf(i);
  const identity = targetIdentity(targetOf(host));
  const records = Array.from({ length: perIncident }, (_, k) => record(firstSeq + k, i, k));
  const closed = i < closedCount;
  const last = records.at(-1)!;
  const iocs = new Map<string, { type: string; value: string; count: number; lastSeen: string }>();
  for (const r of records) {
    const key = `${r.ioc.type}:${r.ioc.value}`;
    const seen = iocs.get(key) ?? { ...r.ioc, count: 0, lastSeen: r.observedAt };
    seen.count++;
    seen.lastSeen = r.observedAt;
    iocs.set(key, seen);
  }
  const id = `inc-${i.toString(16).padStart(8, '0')}`;
  return {
    id,
    ordinal: i + 1,
    xdrId: `https://private.intel.amp.cisco.com/ctia/incident/incident-bench-${i}`,
    targetKey: identity.key,
    targetType: identity.type,
    targetValue: identity.value,
    status: closed ? 'Closed' : 'Open',
    count: perIncident,
    revision: perIncident,
    firstSeen: records[0]!.observedAt,
    lastSeen: last.observedAt,
    openedAt: records[0]!.observedAt,
    ...(closed ? { closedAt: last.observedAt, closedBy: 'bench' } : {}),
    initial: records[0]!,
    recentSightings: records.slice(1).slice(-50),
    lastIoc: last.ioc,
    lastSource: SOURCE,
    iocs: [...iocs.values()].reverse().slice(0, 25),
    iocsTotal: iocs.size,
    sources: { [SOURCE]: perIncident },
    rungsFired: ladderLabels.map((rung) => ({ rung, count: 2, at: records[0]!.observedAt, actions: ['notify'], dryRun: false, outcome: 'notify: sent' })),
    xdrSync: { pending: [], dropped: 0, lastSyncedAt: last.observedAt },
  };
}

/** Writes `<stateFile>` and `<stateFile>.journal`; returns the targets that have an open incident. */
export async function writeCorrelationStore(stateFile: string, size: StoreSize): Promise<{ openHosts: string[]; openXdrIds: string[]; bytes: number }> {
  await mkdir(path.dirname(stateFile), { recursive: true });
  const perIncident = Math.max(1, Math.floor(size.sightings / size.incidents));
  const labels = parseLadder(LADDER).map((r) => r.label);
  const state = emptyState();
  const incidents: Record<string, Incident> = {};
  const openByTarget: Record<string, string> = {};
  const latestByTarget: Record<string, string> = {};
  const openHosts: string[] = [];
  const openXdrIds: string[] = [];
  for (let i = 0; i < size.incidents; i++) {
    const inc = buildIncident(i, perIncident, i * perIncident + 1, labels, Math.min(CLOSED_SHARE, Math.floor(size.incidents / 10)));
    incidents[inc.id] = inc;
    latestByTarget[inc.targetKey] = inc.id;
    if (inc.status !== 'Closed') {
      openByTarget[inc.targetKey] = inc.id;
      openHosts.push(hostOf(i));
      openXdrIds.push(inc.xdrId!);
    }
  }
  const lastSeq = size.incidents * perIncident;
  state.correlation = { incidents, openByTarget, latestByTarget, lastAppliedSeq: lastSeq, nextOrdinal: size.incidents + 1, nextOpId: 1 };
  const bytes = await writeJsonStreaming(stateFile, state);
  await writeJournal(`${stateFile}.journal`, lastSeq);
  return { openHosts, openXdrIds, bytes };
}

/** The XDR incident a store like this one mirrored long ago (what XDR holds for each open incident). */
export function mirroredIncidentBody(): Record<string, unknown> {
  const at = new Date(BASE_TIME).toISOString();
  // The status the prepared incidents have here ('Open'): XDR and the store agree, as after a status sync.
  return { title: 'Correlated incident for: bench host [by Sightline]', status: 'Open', confidence: 'Medium', source: 'sightline', incident_time: { opened: at, discovered: at } };
}

/** A journal after compaction: the seq floor, then the digests of the sender ids the dedupe index still remembers. */
async function writeJournal(file: string, floor: number): Promise<void> {
  const out = createWriteStream(file);
  out.write(`${JSON.stringify({ floor })}\n`);
  const at = Date.now() - 60_000;
  const first = Math.max(1, floor - REMEMBERED_KEYS + 1);
  for (let from = first; from <= floor; from += 1000) {
    const keys: [string, number][] = [];
    for (let s = from; s < Math.min(from + 1000, floor + 1); s++) keys.push([DedupeIndex.digest(`prepop-${s}`), at]);
    if (!out.write(`${JSON.stringify({ dedupeDigests: keys })}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/**
 * JSON.stringify of a 100k-incident state would be one ~200 MB string; writing
 * incident by incident keeps the preparation's memory small. Same bytes as JSON.stringify.
 */
export async function writeJsonStreaming(file: string, state: object): Promise<number> {
  const out = createWriteStream(file);
  let bytes = 0;
  const write = async (s: string) => {
    bytes += Buffer.byteLength(s);
    if (!out.write(s)) await once(out, 'drain');
  };
  const { correlation, ...rest } = state as { correlation: { incidents: Record<string, unknown> } & Record<string, unknown> };
  const { incidents, ...others } = correlation;
  await write(JSON.stringify(rest).slice(0, -1));
  await write(`,"correlation":${JSON.stringify(others).slice(0, -1)},"incidents":{`);
  let first = true;
  for (const [id, inc] of Object.entries(incidents)) {
    await write(`${first ? '' : ','}${JSON.stringify(id)}:${JSON.stringify(inc)}`);
    first = false;
  }
  await write('}}}');
  out.end();
  await once(out, 'finish');
  return bytes;
}
