import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Adapter } from 'lowdb';
import type { JsonSink } from '../core/json-sink.js';
import { writevFully } from './write-fully.js';

/**
 * A lowdb adapter that writes compact JSON in slices, yielding to the event loop
 * between them. `JSON.stringify` of a large state (35 MB at 10,000 incidents)
 * blocks the process for ~150 ms; written in slices, HTTP requests keep being
 * answered meanwhile, and no single string ever has to hold the whole file
 * (V8 caps strings at ~512 MB).
 *
 * Like lowdb's own JSONFile it writes a temp file and renames it over the old
 * one, so a crash leaves the old or the new state, never half of one.
 *
 * The caller must not change the data while `write` runs (LowdbStore holds its
 * updates back until `serialized` resolves); the bytes already produced are then
 * flushed to disk while updates go on.
 */
export class StreamingJsonFile<T> implements Adapter<T> {
  /** Resolves when the data of the write in progress has been fully turned into text. */
  serialized: Promise<void> = Promise.resolve();
  /** The most text (characters) the last write held made but not yet handed to the disk. */
  lastMaxQueued = 0;
  private readonly tempPath: string;

  constructor(
    private readonly path: string,
    private readonly opts: { sliceMs?: number; flushBytes?: number; maxQueuedBytes?: number; leaf?: LeafJson } = {},
  ) {
    this.tempPath = join(dirname(path), `.${basename(path)}.tmp`);
  }

  async read(): Promise<T | null> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as T;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async write(data: T): Promise<void> {
    const sliceMs = this.opts.sliceMs ?? 4;
    // Pieces wait for the disk as they are (text made now at most `maxQueued` of it), and each flush is
    // written from one buffer per run of texts next to the kept bytes: joined into one string first, the
    // whole state's text went through the young generation at every snapshot (a third of what a flood
    // at 10,000 incidents allocated), and was copied once more to be written (issue 14). A piece may
    // overshoot the flush size by its length.
    const flushBytes = this.opts.flushBytes ?? 1 << 16;
    const maxQueued = this.opts.maxQueuedBytes ?? MAX_QUEUED_BYTES;
    const fh = await open(this.tempPath, 'w');
    let doneSerializing!: () => void;
    this.serialized = new Promise<void>((resolve) => (doneSerializing = resolve));
    try {
      let parts: (string | Uint8Array)[] = [];
      let size = 0;
      let partsMadeNow = 0;
      // One write at a time: concurrent FileHandle writes without a position may land out of order.
      let written: Promise<unknown> = Promise.resolve();
      let unsynced = 0;
      let queued = 0;
      this.lastMaxQueued = 0;
      const flush = (pieces: (string | Uint8Array)[], madeNow: number): void => {
        queued += madeNow;
        if (queued > this.lastMaxQueued) this.lastMaxQueued = queued;
        written = written.then(async () => {
          const buffers = encodeTexts(pieces);
          queued -= madeNow;
          // Synced to the disk a megabyte at a time, not all at the end: the whole state's dirty pages
          // (33 MB at 10,000 incidents) reaching the disk at once made the sightings journal's
          // fdatasync, and so every 202 in flight, wait behind them (issue 14).
          await writevFully(fh, buffers);
          for (const b of buffers) unsynced += b.length;
          if (unsynced >= SYNC_BYTES) {
            unsynced = 0;
            await fh.datasync();
          }
        });
      };
      const add = (piece: string | Uint8Array, madeNow: boolean): void => {
        parts.push(piece);
        size += piece.length;
        if (madeNow) partsMadeNow += piece.length;
        if (size >= flushBytes) {
          flush(parts, partsMadeNow);
          parts = [];
          size = 0;
          partsMadeNow = 0;
        }
      };
      const sink: JsonSink = { text: (s) => add(s, true), kept: (piece) => add(piece, false) };
      let sliceStart = performance.now();
      /** A promise to wait for when it is time to let the event loop (or the disk) run; undefined to go on. */
      const maybeYield = (): Promise<void> | undefined => {
        // Text is made faster than the disk takes it: unbounded, the whole state (44 MB at 10,000
        // incidents) waited in memory as chunks, lived through young-generation collections that copied
        // it, and grew the old generation by as much per snapshot (issue 14: the p99 and the peak RSS).
        // Only text made now counts: what the leaf says is kept (an unchanged incident's bytes, a queued
        // XDR body) is held by reference, so waiting for the disk to take it freed nothing and held every
        // update back (the store takes none until serialising ends): ~1 s a snapshot at 10,000
        // incidents in a flood, for 13 MB made now among 53 MB.
        if (queued > maxQueued) {
          return written.then(() => {
            sliceStart = performance.now();
          });
        }
        if (performance.now() - sliceStart < sliceMs) return undefined;
        return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
          sliceStart = performance.now();
        });
      };
      if (splittable(data, 0)) await serialize(data, sink, maybeYield, 0, [], this.opts.leaf);
      else sink.text(JSON.stringify(data) ?? 'null');
      doneSerializing();
      if (parts.length) flush(parts, partsMadeNow);
      await written;
      // On disk before it replaces the old file: a rename of data still in the page cache can leave an
      // empty state file after a power cut on file systems that do not order the two (XFS, ext4 with noauto_da_alloc).
      await fh.datasync();
      await fh.close();
      await rename(this.tempPath, this.path);
    } catch (err) {
      doneSerializing();
      await fh.close().catch(() => undefined);
      await unlink(this.tempPath).catch(() => undefined);
      throw err;
    }
  }
}

/** The pieces as buffers to write: each run of texts encoded into one buffer, bytes as they are (not copied). */
function encodeTexts(parts: readonly (string | Uint8Array)[]): Uint8Array[] {
  const buffers: Uint8Array[] = [];
  let i = 0;
  while (i < parts.length) {
    const part = parts[i]!;
    if (typeof part !== 'string') {
      buffers.push(part);
      i++;
      continue;
    }
    let end = i;
    let total = 0;
    for (; end < parts.length && typeof parts[end] === 'string'; end++) total += Buffer.byteLength(parts[end] as string);
    const buf = Buffer.allocUnsafe(total);
    let at = 0;
    for (; i < end; i++) at += buf.write(parts[i] as string, at);
    buffers.push(buf);
  }
  return buffers;
}

/**
 * Containers less deep than this are written entry by entry when they are large, and always at
 * the top two levels: a large collection sits under a small section (correlation.incidents under
 * correlation's six keys), and a section written whole is one blocking JSON.stringify of most of
 * the state that never reaches `leaf` (issue 14: a 10,000-incident state stalled requests ~0.7 s
 * a snapshot that way).
 */
const SPLIT_DEPTH = 3;
const SYNC_BYTES = 1 << 20;
/** Text made now, serialised ahead of the disk at most (then serialising waits for the writes): one sync's worth. */
const MAX_QUEUED_BYTES = SYNC_BYTES;
const ALWAYS_SPLIT_DEPTH = 1;
const SPLIT_ENTRIES = 64;
/** Entries written in place between two looks at the clock (an object entry always looks after it). */
const PRIMITIVES_PER_CHECK = 256;

/**
 * Writes a value that is written whole, by its path of keys (e.g. correlation.incidents.<id>), and
 * returns true; false to leave it to JSON.stringify. What the sink is told is kept is written by
 * reference, after serialising may have ended, and does not count against what may wait for the disk. What it writes must be exactly what
 * JSON.stringify would: it exists so a part of the state that did not change since the last
 * snapshot need not be serialised again.
 */
export type LeafJson = (value: object, path: readonly string[], sink: JsonSink) => boolean;

/** Whether `value` at this depth is written entry by entry (with yields) rather than whole. */
function splittable(value: unknown, depth: number): value is object {
  return (
    depth < SPLIT_DEPTH &&
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { toJSON?: unknown }).toJSON !== 'function' &&
    (depth <= ALWAYS_SPLIT_DEPTH || (Array.isArray(value) ? value.length : Object.keys(value).length) >= SPLIT_ENTRIES)
  );
}

/**
 * Writes `value` as compact JSON, identical to JSON.stringify(value), in pieces. `path` is the keys
 * down to `value`, one array pushed and popped as the walk goes: an entry written whole (10,000
 * incidents) costs no promise and no path of its own (issue 14: a snapshot's garbage).
 */
async function serialize(value: object, sink: JsonSink, maybeYield: () => Promise<void> | undefined, depth: number, path: string[], leaf?: LeafJson): Promise<void> {
  // Strings, numbers and booleans are written in place, without the recursion and the await per
  // entry: the maps from target to incident hold 10,000 of them each at 10,000 incidents, and a
  // promise and a timer check per entry were a sizeable part of a snapshot (issue 14).
  let sinceCheck = 0;
  const out = sink.text;
  /** An entry that is an object: written whole (by `leaf` when it has the text) or, when large, entry by entry. */
  const objectEntry = (v: object, key: string): Promise<void> | undefined => {
    path.push(key);
    if (splittable(v, depth + 1)) return serialize(v, sink, maybeYield, depth + 1, path, leaf).finally(() => path.pop());
    if (!leaf?.(v, path, sink)) out(JSON.stringify(v) ?? 'null');
    path.pop();
    return undefined;
  };
  if (Array.isArray(value)) {
    out('[');
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out(',');
      const v: unknown = value[i];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') out('null');
      else if (v === null || typeof v !== 'object') out(JSON.stringify(v) ?? 'null');
      else {
        const deeper = objectEntry(v, String(i));
        if (deeper) await deeper;
        sinceCheck = PRIMITIVES_PER_CHECK;
      }
      if (++sinceCheck >= PRIMITIVES_PER_CHECK) {
        sinceCheck = 0;
        const pause = maybeYield();
        if (pause) await pause;
      }
    }
    out(']');
    return;
  }
  out('{');
  let first = true;
  // Keys, not Object.entries: the keys are the object's own (old) strings, while entries made a fresh
  // [key, value] pair per entry (100,000 at 100,000 incidents) that lived as long as the snapshot,
  // so young-generation collections copied and promoted every one of them.
  const object = value as Record<string, unknown>;
  for (const k of Object.keys(object)) {
    const v = object[k];
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    out(`${first ? '' : ','}${JSON.stringify(k)}:`);
    first = false;
    if (v === null || typeof v !== 'object') out(JSON.stringify(v) ?? 'null');
    else {
      const deeper = objectEntry(v, k);
      if (deeper) await deeper;
      sinceCheck = PRIMITIVES_PER_CHECK;
    }
    if (++sinceCheck >= PRIMITIVES_PER_CHECK) {
      sinceCheck = 0;
      const pause = maybeYield();
      if (pause) await pause;
    }
  }
  out('}');
}
