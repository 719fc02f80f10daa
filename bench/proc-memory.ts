import { readFileSync } from 'node:fs';

/**
 * Where a process's resident memory is, read from /proc (issue 14: after a flood the V8 heap
 * was small again but RSS was not). Linux only; on other systems every figure is NaN.
 *
 * - `anon` / `file`: RssAnon and RssFile from /proc/<pid>/status (file: node's code and libraries).
 * - `brk`: the `[heap]` mapping, glibc's main malloc arena (the main thread's malloc/new).
 * - `arenas`: anonymous mappings that start on a 64 MB boundary and are followed by their
 *   reserved-but-unused tail (`---p`): the per-thread malloc arenas glibc creates for worker
 *   threads (libuv's pool, V8's GC and compiler threads). A heuristic: a V8 page can in principle
 *   start on such a boundary too, but V8 reserves its pages in 256 KB chunks without a tail.
 * - `otherAnon`: the rest of the anonymous memory — V8's heap pages, large allocations glibc
 *   served with their own mmap, stacks.
 */
export interface ProcMemory {
  rss: number;
  anon: number;
  file: number;
  brk: number;
  arenas: number;
  arenaCount: number;
  otherAnon: number;
}

const MB = 1024 * 1024;
const ARENA_ALIGN = 64n * 1024n * 1024n;

export function procMemory(pid: number): ProcMemory {
  const nan: ProcMemory = { rss: NaN, anon: NaN, file: NaN, brk: NaN, arenas: NaN, arenaCount: NaN, otherAnon: NaN };
  let status: string;
  let smaps: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
    smaps = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return nan;
  }
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  const maps = parseSmaps(smaps);
  let brk = 0;
  let arenas = 0;
  let arenaCount = 0;
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i]!;
    if (m.name === '[heap]') brk += m.rss;
    else if (m.name === '' && m.perms.startsWith('rw') && m.start % ARENA_ALIGN === 0n) {
      const next = maps[i + 1];
      if (next && next.name === '' && next.perms.startsWith('---') && next.start === m.end && next.end - m.start <= ARENA_ALIGN) {
        arenas += m.rss;
        arenaCount++;
      }
    }
  }
  const anon = kb('RssAnon');
  return { rss: kb('VmRSS') / MB, anon: anon / MB, file: kb('RssFile') / MB, brk: brk / MB, arenas: arenas / MB, arenaCount, otherAnon: (anon - brk - arenas) / MB };
}

interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  name: string;
  rss: number;
}

function parseSmaps(text: string): Mapping[] {
  const maps: Mapping[] = [];
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      maps.push({ start: BigInt(`0x${head[1]}`), end: BigInt(`0x${head[2]}`), perms: head[3]!, name: head[5]!.trim(), rss: 0 });
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && maps.length) maps[maps.length - 1]!.rss = Number(rss[1]) * 1024;
  }
  return maps;
}
