import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Adapter } from 'lowdb';
import { writeFully } from './write-fully.js';

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
    // Each flush copies its pieces into one buffer, outside the JavaScript heap: joined into a string
    // first, the whole state's text went through the young generation at every snapshot (a third of
    // what a flood at 10,000 incidents allocated), and was copied once more to be written (issue 14).
    // A piece may overshoot the flush size by its length.
    const flushBytes = this.opts.flushBytes ?? 1 << 16;
    const maxQueued = this.opts.maxQueuedBytes ?? MAX_QUEUED_BYTES;
    const fh = await open(this.tempPath, 'w');
    let doneSerializing!: () => void;
    this.serialized = new Promise<void>((resolve) => (doneSerializing = resolve));
    try {
      let parts: (string | Uint8Array)[] = [];
      let size = 0;
      // One write at a time: concurrent FileHandle writes without a position may land out of order.
      let written: Promise<unknown> = Promise.resolve();
      let unsynced = 0;
      let queued = 0;
      this.lastMaxQueued = 0;
      const flush = (chunk: Buffer): void => {
        queued += chunk.length;
        if (queued > this.lastMaxQueued) this.lastMaxQueued = queued;
        written = written.then(async () => {
          queued -= chunk.length;
          // Synced to the disk a megabyte at a time, not all at the end: the whole state's dirty pages
          // (33 MB at 10,000 incidents) reaching the disk at once made the sightings journal's
          // fdatasync, and so every 202 in flight, wait behind them (issue 14).
          await writeFully(fh, chunk);
          unsynced += chunk.length;
          if (unsynced >= SYNC_BYTES) {
            unsynced = 0;
            await fh.datasync();
          }
        });
      };
      let sliceStart = performance.now();
      const out = (s: string | Uint8Array): void => {
        parts.push(s);
        size += s.length;
        if (size >= flushBytes) {
          flush(concatUtf8(parts));
          parts = [];
          size = 0;
        }
      };
      /** A promise to wait for when it is time to let the event loop (or the disk) run; undefined to go on. */
      const maybeYield = (): Promise<void> | undefined => {
        // Text is made faster than the disk takes it: unbounded, the whole state (44 MB at 10,000
        // incidents) waited in memory as chunks, lived through young-generation collections that copied
        // it, and grew the old generation by as much per snapshot (issue 14: the p99 and the peak RSS).
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
      if (splittable(data, 0)) await serialize(data, out, maybeYield, 0, [], this.opts.leaf);
      else out(JSON.stringify(data) ?? 'null');
      doneSerializing();
      if (parts.length) flush(concatUtf8(parts));
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

/** The pieces as one UTF-8 buffer: texts encoded in place, bytes copied as they are. */
function concatUtf8(parts: readonly (string | Uint8Array)[]): Buffer {
  let total = 0;
  for (const p of parts) total += typeof p === 'string' ? Buffer.byteLength(p) : p.length;
  const buf = Buffer.allocUnsafe(total);
  let at = 0;
  for (const p of parts) {
    if (typeof p === 'string') at += buf.write(p, at);
    else {
      buf.set(p, at);
      at += p.length;
    }
  }
  return buf;
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
/** Text serialised ahead of the disk at most (then serialising waits for the writes): one sync's worth. */
const MAX_QUEUED_BYTES = SYNC_BYTES;
const ALWAYS_SPLIT_DEPTH = 1;
const SPLIT_ENTRIES = 64;
/** Entries written in place between two looks at the clock (an object entry always looks after it). */
const PRIMITIVES_PER_CHECK = 256;

/**
 * Text (or its UTF-8 bytes) for a value written whole, by its path of keys (e.g.
 * correlation.incidents.<id>); undefined for JSON.stringify. Must be exactly what JSON.stringify
 * would write: it exists so a part of the state that did not change since the last snapshot need
 * not be serialised again.
 */
export type LeafJson = (value: object, path: readonly string[]) => string | Uint8Array | undefined;

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
async function serialize(value: object, out: (s: string | Uint8Array) => void, maybeYield: () => Promise<void> | undefined, depth: number, path: string[], leaf?: LeafJson): Promise<void> {
  // Strings, numbers and booleans are written in place, without the recursion and the await per
  // entry: the maps from target to incident hold 10,000 of them each at 10,000 incidents, and a
  // promise and a timer check per entry were a sizeable part of a snapshot (issue 14).
  let sinceCheck = 0;
  /** An entry that is an object: written whole (by `leaf` when it has the text) or, when large, entry by entry. */
  const objectEntry = (v: object, key: string): Promise<void> | undefined => {
    path.push(key);
    if (splittable(v, depth + 1)) return serialize(v, out, maybeYield, depth + 1, path, leaf).finally(() => path.pop());
    out((leaf && leaf(v, path)) ?? JSON.stringify(v) ?? 'null');
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
