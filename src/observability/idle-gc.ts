import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from '../core/logger.js';

/**
 * Gives memory back once the process goes quiet (issue 14). Measured at 10,000 incidents:
 * the live heap is ~65 MB, but after loading the state (the file's text, the parse, the
 * schema check) or after a flood V8 held 120–160 MB of garbage for as long as nothing new
 * was allocated — it collects when allocation asks for it, and an idle bot asks for
 * nothing — so RSS stayed 70–100 MB above what the bot needs. One full collection when
 * the process is not saturated (its event loop busy under half the time: after a flood it
 * still mirrors to XDR and queues cards for a while) and the heap has grown well past the last live size
 * returns it (V8 unmaps the freed pages within a second). Never in a flood: a full
 * collection of a 100 MB heap pauses ~50–100 ms, and the heap cap bounds it meanwhile.
 */
export interface IdleGcOptions {
  logger: Logger;
  /** How often to look (ms). */
  intervalMs?: number;
  /** Below this event-loop utilisation since the last look, the process counts as quiet enough. */
  idleLoopShare?: number;
  /** Collect when the heap in use, or the heap V8 holds (committed), exceeds its size after the last collection by this much. */
  growthBytes?: number;
  /** The heap's size in use and committed (default: v8.getHeapStatistics()). */
  heap?: () => HeapNow;
  /** The collector; found on its own when not given (undefined: none to be had, the task does nothing). */
  gc?: (opts?: object) => void;
  /**
   * Share of the time the event loop was busy since the last call (default: node's event-loop
   * utilisation). Not CPU time: on a starved machine or a throttled container a flooded process
   * gets little CPU but its loop is still never idle.
   */
  loopBusy?: () => number;
  /**
   * Runs a collection with V8 compacting every page (default: `compactEverything`); returns false
   * when it could not, and the collection then takes two ordinary passes.
   */
  compacting?: (collect: () => void) => boolean;
  /**
   * Runs at every look that finds the process quiet, before deciding whether to collect: drops
   * what only a busy process needs (the state writer's cached incident texts), so it is collected.
   */
  onQuiet?: () => void;
  /** Runs at every look that finds the process busy (not quiet): what `onQuiet` stopped may start again. */
  onBusy?: () => void;
}

export interface IdleGc {
  /** Collects now if there is garbage worth it; returns whether it did. */
  check(): boolean;
  stop(): void;
}

export function startIdleGc(opts: IdleGcOptions): IdleGc {
  const gc = opts.gc ?? findGc();
  const intervalMs = opts.intervalMs ?? 5_000;
  const idleShare = opts.idleLoopShare ?? 0.5;
  const growth = opts.growthBytes ?? 24 * 1024 * 1024;
  // The first look after start-up collects what loading the state left behind.
  let liveAfterGc = 0;
  // After a flood V8's own full collections often bring the heap in use back near the last live
  // size while the heap it holds stays at its peak: that is worth a compacting collection too.
  let committedAfterGc = 0;
  // …or V8's own collections brought both down but left the old space's pages holding little:
  // worth it when that free room is large and has grown since the last collection left it.
  let oldFreeAfterGc = 0;
  const heap = opts.heap ?? heapNow;
  const loopBusy = opts.loopBusy ?? eventLoopBusy();
  const compacting = opts.compacting ?? compactEverything;
  const check = (): boolean => {
    const share = loopBusy();
    if (share > idleShare) {
      opts.onBusy?.();
      return false;
    }
    opts.onQuiet?.();
    if (!gc) return false;
    const { used, committed, oldFree = 0 } = heap();
    const fragmented = oldFree >= growth && oldFree > oldFreeAfterGc + growth / 2;
    if (used < liveAfterGc + growth && committed < committedAfterGc + growth && !fragmented) return false;
    const t0 = performance.now();
    if (!compacting(gc)) {
      // A second pass compacts some of what the first freed, so V8 hands more whole pages back
      // (measured at 10,000 incidents: RSS 217 MB after one pass, 192 MB after two).
      gc();
      gc();
    }
    const after = heap();
    ({ used: liveAfterGc, committed: committedAfterGc } = after);
    oldFreeAfterGc = after.oldFree ?? 0;
    opts.logger.debug({ heapUsedMbBefore: Math.round(used / 1048576), heapUsedMbAfter: Math.round(liveAfterGc / 1048576), heapCommittedMbBefore: Math.round(committed / 1048576), heapCommittedMbAfter: Math.round(committedAfterGc / 1048576), ms: Math.round(performance.now() - t0) }, 'idle: collected garbage');
    return true;
  };
  const timer = setInterval(check, intervalMs);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}

interface HeapNow {
  used: number;
  committed: number;
  /** Old space committed but not in use. */
  oldFree?: number;
}

function heapNow(): HeapNow {
  const h = getHeapStatistics();
  const old = getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
  return { used: h.used_heap_size, committed: h.total_heap_size, oldFree: old ? old.space_size - old.space_used_size : 0 };
}

function eventLoopBusy(): () => number {
  let last = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const share = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    return share;
  };
}

/**
 * One full collection that moves the survivors of every old-space page together, so V8 can
 * unmap all the pages they leave (issue 14). An ordinary full collection compacts only the
 * pages its heuristics pick: after a flood the survivors (incidents, remembered sightings) sit
 * scattered over pages full of garbage, and V8 kept them all. Measured on node 20 with a
 * heap of 140 MB of which a tenth survives scattered: 160 MB committed after two ordinary
 * collections, 64 MB after this one (RSS 210 → 114 MB). The flag is V8's own
 * (`--compact-on-every-full-gc`), turned on for this collection only: in a flood compacting
 * every page on each full collection would cost pause time when the process has none to spare.
 */
export function compactEverything(collect: () => void): boolean {
  try {
    setFlagsFromString('--compact-on-every-full-gc');
  } catch {
    return false;
  }
  try {
    collect();
  } finally {
    if (!COMPACTING_ALWAYS) setFlagsFromString('--no-compact-on-every-full-gc');
  }
  return true;
}

/** An operator who starts node with the flag keeps it for every collection. */
const COMPACTING_ALWAYS = [...process.execArgv, ...(process.env['NODE_OPTIONS'] ?? '').split(/\s+/)].some((a) => /^--compact[-_]on[-_]every[-_]full[-_]gc$/.test(a));

/** `global.gc` with `--expose-gc`; otherwise the same function, exposed at run time (the flag only adds this function). */
export function findGc(): ((opts?: object) => void) | undefined {
  const exposed = (globalThis as { gc?: (opts?: object) => void }).gc;
  if (typeof exposed === 'function') return exposed;
  try {
    setFlagsFromString('--expose-gc');
    const fn = runInNewContext('gc') as unknown;
    return typeof fn === 'function' ? (fn as (opts?: object) => void) : undefined;
  } catch {
    return undefined;
  }
}
