import type { IncomingSighting } from '../../domain/correlation/intake.js';
import type { SightingTarget } from '../../domain/types.js';
import type { JournalEntry } from './journal.js';

/**
 * One journal line for several sightings appended together:
 *   {"seq":LAST,"first":FIRST,"at":ms,"ctims":[…],"targets":[…],"items":[{…,"t":i,"c":j}]}
 * A CTIM sighting with T targets and O observables becomes T × O pairs; each pair names its
 * target and its CTIM sighting by position instead of carrying copies, so the line is about
 * the size of the request (issue 17 item 2: 1,000 pairs once wrote 375 MB). Decoding gives
 * the pairs the same shared objects back, so memory stays linear too.
 */
interface GroupLine {
  seq: number;
  first: number;
  at: number;
  ctims: Record<string, unknown>[];
  targets: SightingTarget[];
  items: (Omit<IncomingSighting, 'target' | 'ctim'> & { t: number; c?: number })[];
}

export function encodeGroup(first: number, at: number, items: readonly IncomingSighting[]): string {
  const ctims = new Map<object, number>();
  const targets = new Map<object, number>();
  const indexOf = (table: Map<object, number>, value: object): number => {
    let i = table.get(value);
    if (i === undefined) table.set(value, (i = table.size));
    return i;
  };
  const rows = items.map(({ target, ctim, ...rest }) => ({ ...rest, t: indexOf(targets, target), ...(ctim ? { c: indexOf(ctims, ctim) } : {}) }));
  const line: GroupLine = { seq: first + items.length - 1, first, at, ctims: [...ctims.keys()] as GroupLine['ctims'], targets: [...targets.keys()] as SightingTarget[], items: rows };
  return JSON.stringify(line);
}

export function isGroupLine(v: Record<string, unknown>): boolean {
  return typeof v.seq === 'number' && typeof v.first === 'number' && typeof v.at === 'number' && Array.isArray(v.items) && Array.isArray(v.targets) && Array.isArray(v.ctims);
}

/** Entries of a group line, in seq order; a row whose references do not resolve is skipped (a damaged line). */
export function decodeGroup(v: Record<string, unknown>): JournalEntry[] {
  const g = v as unknown as GroupLine;
  const out: JournalEntry[] = [];
  g.items.forEach((row, i) => {
    if (typeof row !== 'object' || row === null) return;
    const { t, c, ...rest } = row;
    const target = g.targets[t];
    const ctim = c === undefined ? undefined : g.ctims[c];
    if (!target || (c !== undefined && !ctim)) return;
    out.push({ seq: g.first + i, at: g.at, item: { ...rest, target, ...(ctim ? { ctim } : {}) } });
  });
  return out;
}
