import { hash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, truncate, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Clock } from '../../core/clock.js';
import { StoreError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { IncomingSighting } from '../../domain/correlation/intake.js';
import { decodeGroup, encodeGroup, isGroupLine } from './journal-group.js';
import { writeFully } from '../write-fully.js';
import { KeyGenerations } from './key-generations.js';

/**
 * The write-ahead log behind the 202: an append-only JSON-lines file next to the
 * state file (`<STATE_FILE>.journal`). One line per append: a single sighting as
 * `{"seq":N,"at":ms,"item":{…}}`, several as one group line (journal-group.ts) that holds
 * each CTIM sighting and each target ONCE and refers to them from every pair, so what is
 * written grows with the request, not with targets × observables. A line's `seq` is the
 * highest seq it holds, so "skip lines at or below a seq" stays a prefix check.
 *
 * Durability: `append` resolves after `write()` returned for its bytes. From then on a
 * SIGKILL or crash of the process cannot lose them (they are in the OS page cache and
 * the kernel writes them out); only a power loss / kernel crash can, unless `fsync` is
 * on, which adds one `fdatasync` per group commit.
 *
 * Group commit: appends arriving while a write is in flight are joined into the next
 * single `write`, so the cost per sighting stays flat under load.
 *
 * Compaction rewrites the file without the entries the engine has durably applied,
 * atomically (temp file + rename). The rewritten file starts with header lines: the seq
 * floor (so seqs never restart) and the dedupe keys still remembered, so a restart
 * rebuilds the dedupe index from this one file.
 */
export interface JournalEntry {
  seq: number;
  /** When it was accepted (epoch ms), for the dedupe window. */
  at: number;
  item: IncomingSighting;
}

export interface SightingJournalOptions {
  path: string;
  clock: Clock;
  logger: Logger;
  /** Content-hash keys are duplicates within this many seconds. */
  dedupeWindowSeconds: number;
  /** Keys from sender ids are remembered longer: the most recent this many. */
  explicitKeyCapacity?: number;
  /** fdatasync after each group commit (survives power loss, costs latency). Default off. */
  fsync?: boolean;
}

export function journalPathFor(stateFile: string): string {
  return `${stateFile}.journal`;
}

const SEQ_PREFIX = /^\{"seq":(\d+),/;
const HEADER_KEYS_PER_LINE = 1000;

interface Pending {
  bytes: string;
  lastSeq: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class SightingJournal {
  readonly dedupe: DedupeIndex;
  private fh: FileHandle;
  private size: number;
  private assignedSeq: number;
  private writtenSeq: number;
  private queue: Pending[] = [];
  private writing: Promise<void> | undefined;
  private paused = false;
  private failed: StoreError | undefined;
  private compacting: Promise<void> | undefined;

  private constructor(private readonly opts: SightingJournalOptions, fh: FileHandle, size: number, lastSeq: number, dedupe: DedupeIndex) {
    this.fh = fh;
    this.size = size;
    this.assignedSeq = lastSeq;
    this.writtenSeq = lastSeq;
    this.dedupe = dedupe;
  }

  /** Opens (or creates) the journal, drops a torn last line left by a crash, and rebuilds the dedupe index. */
  static async open(opts: SightingJournalOptions): Promise<SightingJournal> {
    await mkdir(dirname(opts.path), { recursive: true });
    const now = opts.clock.now().getTime();
    const dedupe = new DedupeIndex(opts.dedupeWindowSeconds * 1000, opts.explicitKeyCapacity);
    const fileSize = await stat(opts.path).then((s) => s.size, () => 0);
    let goodEnd = 0;
    let lastSeq = 0;
    let corrupt = 0;
    for await (const { line, end } of readLines(opts.path, 0, fileSize)) {
      goodEnd = end;
      const record = parseLine(line);
      if (!record) corrupt++;
      else if ('entries' in record) {
        for (const entry of record.entries) {
          lastSeq = Math.max(lastSeq, entry.seq);
          dedupe.remember(DedupeIndex.digest(entry.item.dedupeKey), entry.at, now);
        }
      } else if ('floor' in record) lastSeq = Math.max(lastSeq, record.floor);
      else for (const [key, at] of record.dedupe) dedupe.remember(key, at, now);
    }
    if (goodEnd < fileSize) {
      opts.logger.warn({ path: opts.path, bytes: fileSize - goodEnd }, 'sightings journal ended with a torn line (crash during a write); dropped it');
      await truncate(opts.path, goodEnd);
    }
    if (corrupt > 0) opts.logger.warn({ path: opts.path, lines: corrupt }, 'sightings journal has unreadable lines; they are skipped');
    const fh = await open(opts.path, appendFlags(opts.fsync));
    return new SightingJournal(opts, fh, goodEnd, lastSeq, dedupe);
  }

  /** Highest seq assigned (written or in flight). */
  lastSeq(): number {
    return this.assignedSeq;
  }

  /** Highest seq whose bytes are written. */
  durableSeq(): number {
    return this.writtenSeq;
  }

  sizeBytes(): number {
    return this.size;
  }

  /** Appends items in order; resolves with their seqs once the bytes are written. */
  append(items: IncomingSighting[]): Promise<number[]> {
    if (this.failed) return Promise.reject(this.failed);
    if (items.length === 0) return Promise.resolve([]);
    const at = this.opts.clock.now().getTime();
    const first = this.assignedSeq + 1;
    const seqs = items.map((_, i) => first + i);
    let bytes: string;
    try {
      bytes = items.length === 1 ? `${JSON.stringify({ seq: first, at, item: items[0] })}\n` : `${encodeGroup(first, at, items)}\n`;
    } catch (err) {
      // Only a body far past every documented ceiling gets here (V8's string limit); nothing was assigned yet.
      return Promise.reject(new StoreError('payload_too_large', 'This request holds more than one journal line can take: split it into smaller requests.', { httpStatus: 413, cause: err }));
    }
    this.assignedSeq += items.length;
    return new Promise<number[]>((resolve, reject) => {
      this.queue.push({ bytes, lastSeq: this.assignedSeq, resolve: () => resolve(seqs), reject });
      this.kick();
    });
  }

  /** Entries with seq > afterSeq, oldest first, as written when the call was made. */
  async *replay(afterSeq: number): AsyncGenerator<JournalEntry> {
    for await (const { line } of readLines(this.opts.path, 0, this.size)) {
      const seqMatch = SEQ_PREFIX.exec(line);
      if (seqMatch && Number(seqMatch[1]) <= afterSeq) continue;
      const record = parseLine(line);
      if (record && 'entries' in record) for (const entry of record.entries) if (entry.seq > afterSeq) yield entry;
    }
  }

  /** Rewrites the journal without entries ≤ uptoSeq (their effects are durable elsewhere). Appends keep flowing meanwhile. */
  compact(uptoSeq: number): Promise<void> {
    this.compacting ??= this.rewrite(Math.min(uptoSeq, this.writtenSeq)).finally(() => (this.compacting = undefined));
    return this.compacting;
  }

  async close(): Promise<void> {
    await this.compacting?.catch(() => undefined);
    while (this.writing || this.queue.length > 0) await (this.writing ?? Promise.resolve());
    await this.fh.close().catch(() => undefined);
    this.failed ??= new StoreError('store_unwritable', 'The sightings journal is closed.', { httpStatus: 503 });
  }

  private kick(): void {
    if (this.writing || this.paused || this.queue.length === 0) return;
    this.writing = this.drain().finally(() => {
      this.writing = undefined;
      this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.paused) {
      const batch = this.queue.splice(0);
      const buffer = Buffer.from(batch.map((p) => p.bytes).join(''));
      try {
        await writeFully(this.fh, buffer);
        if (this.opts.fsync && !DSYNC_WRITES) await this.fh.datasync();
        this.size += buffer.length;
        this.writtenSeq = batch.at(-1)!.lastSeq;
        for (const p of batch) p.resolve();
      } catch (err) {
        const error = await this.recoverFromFailedWrite(err);
        for (const p of batch) p.reject(error);
      }
    }
  }

  /** A half-written batch must not glue itself to the next one: cut the file back to the last good byte. */
  private async recoverFromFailedWrite(err: unknown): Promise<StoreError> {
    const error = new StoreError('store_unwritable', `Sightline could not write the sightings journal ${this.opts.path}: check the disk has space and the state directory is writable, then resend.`, { httpStatus: 503, cause: err });
    this.opts.logger.error({ err, path: this.opts.path }, 'sightings journal write failed');
    try {
      await this.fh.truncate(this.size);
    } catch (truncErr) {
      this.failed = error;
      for (const p of this.queue.splice(0)) p.reject(error);
      this.opts.logger.error({ err: truncErr }, 'sightings journal could not be repaired; refusing further appends until restart');
    }
    return error;
  }

  private async rewrite(uptoSeq: number): Promise<void> {
    const tmp = `${this.opts.path}.compact-${process.pid}`;
    const snapshotEnd = this.size;
    const out = await open(tmp, 'w');
    try {
      await writeFully(out, Buffer.from(`${JSON.stringify({ floor: uptoSeq })}\n`));
      // Chunked with awaits in between, so 200k remembered keys never block the event loop for long.
      let keys: [DedupeDigest, number][] = [];
      for (const entry of this.dedupe.entries(this.opts.clock.now().getTime())) {
        keys.push(entry);
        if (keys.length < HEADER_KEYS_PER_LINE) continue;
        await writeFully(out, Buffer.from(`${JSON.stringify({ dedupeDigests: keys })}\n`));
        keys = [];
      }
      if (keys.length > 0) await writeFully(out, Buffer.from(`${JSON.stringify({ dedupeDigests: keys })}\n`));
      // Entries are in seq order, so the kept ones are one tail of the file: copy it in bulk.
      const kept = await firstLineAfter(this.opts.path, uptoSeq, snapshotEnd);
      let keepFrom = kept.start;
      if (kept.straddles) {
        // A group line holding seqs on both sides of the floor: keep only its later pairs.
        const entries = kept.straddles.filter((e) => e.seq > uptoSeq);
        await writeFully(out, Buffer.from(`${encodeGroup(entries[0]!.seq, entries[0]!.at, entries.map((e) => e.item))}\n`));
        keepFrom = kept.end;
      }
      await copyRange(this.opts.path, keepFrom, snapshotEnd, out);
      // Hold new writes only for the short tail written since the snapshot.
      this.paused = true;
      while (this.writing) await this.writing;
      await copyRange(this.opts.path, snapshotEnd, this.size, out);
      await out.datasync();
      await out.close();
      await rename(tmp, this.opts.path);
      const old = this.fh;
      this.fh = await open(this.opts.path, appendFlags(this.opts.fsync));
      this.size = (await this.fh.stat()).size;
      await old.close().catch(() => undefined);
      this.opts.logger.info({ uptoSeq, bytes: this.size }, 'sightings journal compacted');
    } catch (err) {
      await out.close().catch(() => undefined);
      await rm(tmp, { force: true });
      throw new StoreError('store_unwritable', `Sightline could not compact the sightings journal ${this.opts.path}: check free disk space.`, { cause: err });
    } finally {
      this.paused = false;
      this.kick();
    }
  }
}

/**
 * With fsync on, the journal is opened O_DSYNC where the platform has it: each group's write
 * returns once its bytes are on disk, as write + fdatasync would, but in one trip to the thread
 * pool instead of two — the 202s waiting on a group commit no longer also wait for the event loop
 * to hand the second call over (issue 14: that turn was a large part of a request's time under load).
 */
const DSYNC_WRITES = typeof constants.O_DSYNC === 'number' && constants.O_DSYNC !== 0;

function appendFlags(fsync: boolean | undefined): string | number {
  return fsync && DSYNC_WRITES ? constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC : 'a';
}

/**
 * Byte offset of the first line holding a seq > afterSeq (header lines and older entries come
 * before it); `straddles` holds that line's entries when it also holds seqs ≤ afterSeq.
 */
async function firstLineAfter(path: string, afterSeq: number, end: number): Promise<{ start: number; end: number; straddles?: JournalEntry[] }> {
  let lineStart = 0;
  for await (const { line, end: lineEnd } of readLines(path, 0, end)) {
    const m = SEQ_PREFIX.exec(line);
    if (m && Number(m[1]) > afterSeq) {
      const record = parseLine(line);
      const entries = record && 'entries' in record ? record.entries : [];
      const straddles = entries.length > 1 && entries[0]!.seq <= afterSeq && entries.some((e) => e.seq > afterSeq);
      return { start: lineStart, end: lineEnd, ...(straddles ? { straddles: entries } : {}) };
    }
    lineStart = lineEnd;
  }
  return { start: end, end };
}

async function copyRange(path: string, start: number, end: number, out: FileHandle): Promise<void> {
  if (end <= start) return;
  for await (const chunk of createReadStream(path, { start, end: end - 1, highWaterMark: 1 << 20 })) await writeFully(out, chunk as Buffer);
}

type Record_ = { entries: JournalEntry[] } | { floor: number } | { dedupe: [DedupeDigest, number][] };

function parseLine(line: string): Record_ | undefined {
  try {
    const v = JSON.parse(line) as Record<string, unknown>;
    if (typeof v.seq === 'number' && typeof v.at === 'number' && typeof v.item === 'object' && v.item !== null) return { entries: [v as unknown as JournalEntry] };
    if (isGroupLine(v)) return { entries: decodeGroup(v) };
    if (typeof v.floor === 'number') return { floor: v.floor };
    // Written before issue 14's digests: the keys themselves.
    if (Array.isArray(v.dedupe)) return { dedupe: (v.dedupe as [string, number][]).map(([key, at]) => [DedupeIndex.digest(String(key)), at]) };
    if (Array.isArray(v.dedupeDigests)) {
      const keys: [DedupeDigest, number][] = [];
      for (const pair of v.dedupeDigests as unknown[][]) {
        const key = Array.isArray(pair) ? DedupeIndex.parseDigest(pair[0]) : undefined;
        if (key !== undefined && typeof pair[1] === 'number') keys.push([key, pair[1]]);
      }
      return { dedupe: keys };
    }
  } catch {
    // fall through: an unreadable line
  }
  return undefined;
}

/** Complete lines of [start, end) with the byte offset just past each; an unterminated tail is not yielded. */
async function* readLines(path: string, start: number, end: number): AsyncGenerator<{ line: string; end: number }> {
  if (end <= start) return;
  let carry: Buffer[] = [];
  let offset = start;
  for await (const chunk of createReadStream(path, { start, end: end - 1, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    let from = 0;
    for (let nl = chunk.indexOf(10, from); nl !== -1; nl = chunk.indexOf(10, from)) {
      const piece = chunk.subarray(from, nl);
      const line = carry.length > 0 ? Buffer.concat([...carry, piece]) : piece;
      carry = [];
      offset += line.length + 1;
      from = nl + 1;
      yield { line: line.toString('utf8'), end: offset };
    }
    if (from < chunk.length) carry.push(chunk.subarray(from));
  }
}

/**
 * A dedupe key as the index holds it: the first 128 bits of its SHA-256 (base64url, 22 characters),
 * `~`-prefixed for a content key. Sender ids and pair keys run to 50 characters and more; a flood of
 * 158,000 sightings held 20 MB of them, 13 MB as digests (issue 14: the flood's memory). 128 bits of
 * SHA-256 do not collide by chance (about 1 in 10^27 at a million keys), nor by a crafted id.
 */
export type DedupeDigest = string & { readonly dedupeDigest: true };

/**
 * Which sightings were already taken. Content-hash keys (`sha256:…`) count within the
 * dedupe window; keys from sender ids are kept by count (at least the most recent
 * `explicitCapacity`), since a sender may redeliver hours later. Both are held in generations
 * (key-generations.ts) and forgotten a generation at a time: evicting the oldest key of one
 * big Map per sighting cost ~60 µs a key once it was full (issue 14).
 * Times are held relative to when the index was made, so each fits V8's small integers
 * (within ±12 days of it) instead of a boxed number per key.
 */
export class DedupeIndex {
  private readonly recent: KeyGenerations<DedupeDigest>;
  private readonly explicit: KeyGenerations<DedupeDigest>;
  private readonly baseMs = Date.now();

  constructor(
    private readonly windowMs: number,
    private readonly explicitCapacity = 200_000,
    private readonly recentCapacity = 1_000_000,
  ) {
    this.recent = new KeyGenerations(generationKeysFor(recentCapacity));
    this.explicit = new KeyGenerations(generationKeysFor(explicitCapacity));
  }

  static isContentKey(key: string): boolean {
    return key.startsWith('sha256:');
  }

  /** The digest of a sighting's dedupe key: compute it once per sighting and use it for every look. */
  static digest(key: string): DedupeDigest {
    const text = hash('sha256', key, 'buffer').toString('base64url', 0, 16);
    return (DedupeIndex.isContentKey(key) ? `~${text}` : text) as DedupeDigest;
  }

  /** A digest read back from the journal's header; undefined for anything else. */
  static parseDigest(text: unknown): DedupeDigest | undefined {
    return typeof text === 'string' && DIGEST.test(text) ? (text as DedupeDigest) : undefined;
  }

  has(key: DedupeDigest, nowMs: number): boolean {
    if (!isContentDigest(key)) return this.explicit.get(key) !== undefined;
    const at = this.recent.get(key);
    return at !== undefined && nowMs - (at + this.baseMs) < this.windowMs;
  }

  remember(key: DedupeDigest, atMs: number, nowMs: number): void {
    if (isContentDigest(key)) {
      if (nowMs - atMs >= this.windowMs) return;
      this.recent.set(key, atMs - this.baseMs);
      // A generation goes once its newest key has left the window, or (a memory bound) the oldest once there are too many.
      this.recent.dropOldestWhile(({ keysLeftAfter, newestAt }) => nowMs - (newestAt + this.baseMs) >= this.windowMs || keysLeftAfter >= this.recentCapacity);
    } else {
      this.explicit.set(key, atMs - this.baseMs);
      this.explicit.dropOldestWhile(({ keysLeftAfter }) => keysLeftAfter >= this.explicitCapacity);
    }
  }

  forget(key: DedupeDigest): void {
    this.recent.delete(key);
    this.explicit.delete(key);
  }

  get size(): number {
    return this.recent.size + this.explicit.size;
  }

  /** Digests worth persisting (sender ids, then unexpired window keys), oldest first; safe to iterate across awaits. */
  *entries(nowMs: number): Generator<[DedupeDigest, number]> {
    for (const [key, at] of this.explicit.entries()) yield [key, at + this.baseMs];
    for (const [key, at] of this.recent.entries()) if (nowMs - (at + this.baseMs) < this.windowMs) yield [key, at + this.baseMs];
  }
}

const DIGEST = /^~?[A-Za-z0-9_-]{22}$/;

/** An eighth of the capacity (so at most an eighth more is held), and never a table big enough for a long rebuild. */
function generationKeysFor(capacity: number): number {
  return Math.max(1, Math.min(32_768, Math.ceil(capacity / 8)));
}

function isContentDigest(key: DedupeDigest): boolean {
  return key.charCodeAt(0) === 126; // '~'
}
