import { open } from 'node:fs/promises';
import type { EmulatedWorld } from '../src/sandbox/world.js';
import { sleep, type SightlineProcess, type StateOnDisk } from './support.js';

/**
 * Reads the end state of a run from outside the process: the state file on disk,
 * the XDR emulator's entities and the Webex emulator's rooms. The emulators live in
 * the suite's process, so their state survives every restart of Sightline.
 */

type LocalIncident = NonNullable<StateOnDisk['correlation']>['incidents'][string];

/** Waits until intake, XDR mirroring and the outbox are quiet: counts stable, nothing queued. */
export async function settle(proc: SightlineProcess, timeoutMs = 180_000): Promise<{ settled: boolean; detail?: string; state?: StateOnDisk }> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  let stableSince = Date.now();
  let state: StateOnDisk | undefined;
  while (Date.now() < deadline) {
    state = await proc.readState().catch(() => undefined);
    if (state) {
      const incidents = Object.values(state.correlation?.incidents ?? {});
      const pending = incidents.reduce((n, i) => n + i.xdrSync.pending.length, 0);
      const journalSeq = await lastJournalSeq(proc.journalFile);
      const applied = state.correlation?.lastAppliedSeq ?? 0;
      const sig = JSON.stringify([applied, journalSeq, incidents.reduce((n, i) => n + i.count, 0), pending, state.outbox.length]);
      if (sig !== last) {
        last = sig;
        stableSince = Date.now();
      } else if (pending === 0 && state.outbox.length === 0 && applied >= journalSeq && Date.now() - stableSince > 1500) {
        return { settled: true, state };
      }
    }
    await sleep(200);
  }
  return { settled: false, detail: `still busy after ${timeoutMs} ms: [lastAppliedSeq, journal seq, counted, xdr ops pending, outbox] = ${last}`, state };
}

/** The highest seq in the journal's last complete line (the replay in the background must reach it). */
async function lastJournalSeq(file: string): Promise<number> {
  try {
    const fh = await open(file, 'r');
    try {
      const { size } = await fh.stat();
      const len = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      const lines = buf.toString('utf8').split('\n').filter((l) => l.startsWith('{"seq":'));
      for (let i = lines.length - 1; i >= 0; i--) {
        const m = /^\{"seq":(\d+)/.exec(lines[i]!);
        if (m) return Number(m[1]);
      }
      return 0;
    } finally {
      await fh.close();
    }
  } catch {
    return 0;
  }
}

export function xdrDuplicates(world: EmulatedWorld, incidents: LocalIncident[]): { xdrIncidents: number; duplicateIncidents: string[]; missing: string[]; duplicateSightings: number; xdrSightings: number } {
  const remote = world.xdr.state.incident ?? [];
  const perLocal = new Map<string, number>();
  for (const inc of remote) {
    for (const ext of (inc as { external_ids?: string[] }).external_ids ?? []) {
      if (ext.startsWith('sightline-incident-')) perLocal.set(ext.slice('sightline-incident-'.length), (perLocal.get(ext.slice('sightline-incident-'.length)) ?? 0) + 1);
    }
  }
  const sightings = new Map<string, number>();
  for (const s of world.xdr.state.sighting ?? []) {
    for (const ext of (s as { external_ids?: string[] }).external_ids ?? []) if (ext.startsWith('sightline-sighting-')) sightings.set(ext, (sightings.get(ext) ?? 0) + 1);
  }
  return {
    xdrIncidents: remote.length,
    duplicateIncidents: [...perLocal].filter(([, n]) => n > 1).map(([id, n]) => `${id}×${n}`),
    missing: incidents.filter((i) => !perLocal.has(i.id)).map((i) => i.id),
    duplicateSightings: [...sightings.values()].filter((n) => n > 1).reduce((a, n) => a + n - 1, 0),
    xdrSightings: sightings.size,
  };
}

/** Bot messages in the room titled `title`, and those whose text appeared more than once (a card posted twice). */
export function duplicateCards(world: EmulatedWorld, title: string): { total: number; duplicates: string[]; messages: { markdown?: string; parentId?: string }[] } {
  const room = world.webex.rooms().find((rm) => rm.title === title);
  if (!room) return { total: 0, duplicates: [], messages: [] };
  const mine = world.webex.messages(room.id).filter((m) => m.personId === world.webex.bot.id);
  const seen = new Map<string, number>();
  for (const m of mine) {
    const key = `${m.parentId ?? ''}|${m.markdown ?? m.text ?? ''}|${JSON.stringify(m.attachments ?? [])}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return {
    total: mine.length,
    duplicates: [...seen].filter(([, n]) => n > 1).map(([k, n]) => `${n}× "${k.split('|')[1]!.slice(0, 80)}"`),
    messages: mine,
  };
}
