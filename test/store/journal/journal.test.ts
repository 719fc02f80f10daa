import { constants } from 'node:fs';
import { appendFile, readdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { IncomingSighting } from '../../../src/domain/correlation/intake.js';
import { DedupeIndex, SightingJournal, journalPathFor, type JournalEntry } from '../../../src/store/journal/journal.js';
import { tempJournalPath } from '../../transport/http/sightings/helpers.js';

const d = DedupeIndex.digest;

function sighting(n: number, key = `sha256:${String(n).padStart(64, '0')}`): IncomingSighting {
  return {
    dedupeKey: key,
    target: { type: 'endpoint', observables: [{ type: 'hostname', value: `host-${n}` }] },
    ioc: { type: 'domain', value: `evil-${n}.example` },
    source: 'test',
    observedAt: '2022-02-07T17:18:28.000Z',
  };
}

async function openJournal(path: string, clock = new FakeClock('2024-01-01T00:00:00Z'), window = 300) {
  return SightingJournal.open({ path, clock, logger: silentLogger, dedupeWindowSeconds: window });
}

async function collect(it: AsyncIterable<JournalEntry>): Promise<JournalEntry[]> {
  const out: JournalEntry[] = [];
  for await (const e of it) out.push(e);
  return out;
}

describe('SightingJournal', () => {
  it('derives its path from the state file', () => {
    expect(journalPathFor('./state/sightline.json')).toBe('./state/sightline.json.journal');
  });

  it('assigns increasing seqs and replays everything after a seq, also after reopening', async () => {
    const path = await tempJournalPath();
    const journal = await openJournal(path);
    expect(await journal.append([sighting(1), sighting(2)])).toEqual([1, 2]);
    expect(await journal.append([sighting(3)])).toEqual([3]);
    await journal.close();

    const reopened = await openJournal(path);
    expect(reopened.lastSeq()).toBe(3);
    const after1 = await collect(reopened.replay(1));
    expect(after1.map((e) => e.seq)).toEqual([2, 3]);
    expect(after1[0]!.item).toEqual(sighting(2));
    expect(await reopened.append([sighting(4)])).toEqual([4]);
    expect((await collect(reopened.replay(0))).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    await reopened.close();
  });

  it('has the bytes in the file when append resolves', async () => {
    const path = await tempJournalPath();
    const journal = await openJournal(path);
    await journal.append([sighting(7)]);
    const lines = (await readFile(path, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ seq: 1, item: { dedupeKey: sighting(7).dedupeKey } });
    await journal.close();
  });

  it('drops a torn last line on open and keeps appending cleanly', async () => {
    const path = await tempJournalPath();
    const journal = await openJournal(path);
    await journal.append([sighting(1), sighting(2)]);
    await journal.close();
    const goodSize = (await stat(path)).size;
    await appendFile(path, '{"seq":3,"at":1,"item":{"dedupeKey":"x"');

    const reopened = await openJournal(path);
    expect((await stat(path)).size).toBe(goodSize);
    expect(reopened.lastSeq()).toBe(2);
    expect(await reopened.append([sighting(3)])).toEqual([3]);
    expect((await collect(reopened.replay(0))).map((e) => e.seq)).toEqual([1, 2, 3]);
    await reopened.close();
  });

  it('skips an unreadable line in the middle instead of failing', async () => {
    const path = await tempJournalPath();
    const journal = await openJournal(path);
    await journal.append([sighting(1)]);
    await journal.close();
    await appendFile(path, 'garbage\n');
    const reopened = await openJournal(path);
    await reopened.append([sighting(2)]);
    expect((await collect(reopened.replay(0))).map((e) => e.seq)).toEqual([1, 2]);
    await reopened.close();
  });

  it('compaction keeps later entries, keeps seqs increasing, and survives a reopen', async () => {
    const path = await tempJournalPath();
    const journal = await openJournal(path);
    await journal.append([1, 2, 3, 4, 5].map((n) => sighting(n)));
    const before = journal.sizeBytes();
    await journal.compact(3);
    expect(journal.sizeBytes()).toBeLessThan(before);
    expect((await collect(journal.replay(0))).map((e) => e.seq)).toEqual([4, 5]);
    expect(await journal.append([sighting(6)])).toEqual([6]);
    await journal.compact(6);
    expect(await collect(journal.replay(0))).toEqual([]);
    await journal.close();

    const reopened = await openJournal(path);
    expect(reopened.lastSeq()).toBe(6);
    expect(await reopened.append([sighting(7)])).toEqual([7]);
    await reopened.close();
  });

  it('keeps appends made while compacting', async () => {
    const path = await tempJournalPath();
    const journal = await openJournal(path);
    await journal.append(Array.from({ length: 2000 }, (_, i) => sighting(i)));
    const compacting = journal.compact(1000);
    const during = await Promise.all(Array.from({ length: 50 }, (_, i) => journal.append([sighting(5000 + i)])));
    await compacting;
    const seqs = (await collect(journal.replay(0))).map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: 1050 }, (_, i) => 1001 + i));
    expect(during.flat()).toEqual(Array.from({ length: 50 }, (_, i) => 2001 + i));
    await journal.close();
  });

  it('remembers dedupe keys across compaction and restart', async () => {
    const path = await tempJournalPath();
    const clock = new FakeClock('2024-01-01T00:00:00Z');
    const journal = await openJournal(path, clock);
    await journal.append([sighting(1, 'sender-id-1'), sighting(2)]);
    journal.dedupe.remember(d('sender-id-1'), clock.now().getTime(), clock.now().getTime());
    journal.dedupe.remember(d(sighting(2).dedupeKey), clock.now().getTime(), clock.now().getTime());
    await journal.compact(2);
    await journal.close();

    const reopened = await openJournal(path, clock);
    const now = clock.now().getTime();
    expect(reopened.dedupe.has(d('sender-id-1'), now)).toBe(true);
    expect(reopened.dedupe.has(d(sighting(2).dedupeKey), now)).toBe(true);
    expect(reopened.dedupe.has(d(sighting(2).dedupeKey), now + 301_000)).toBe(false);
    await reopened.close();

    clock.advance(10 * 60_000);
    const later = await openJournal(path, clock);
    expect(later.dedupe.has(d('sender-id-1'), clock.now().getTime())).toBe(true);
    expect(later.dedupe.has(d(sighting(2).dedupeKey), clock.now().getTime())).toBe(false);
    await later.close();
  });

  it('keeps digests of the dedupe keys in its header, not the keys', async () => {
    const path = await tempJournalPath();
    const clock = new FakeClock('2024-01-01T00:00:00Z');
    const journal = await openJournal(path, clock);
    await journal.append([sighting(1, 'sender-id-secret-1')]);
    journal.dedupe.remember(d('sender-id-secret-1'), clock.now().getTime(), clock.now().getTime());
    await journal.compact(1);
    await journal.close();
    const text = await readFile(path, 'utf8');
    expect(text).not.toContain('sender-id-secret-1');
    expect(text).toContain(`"dedupeDigests":[["${d('sender-id-secret-1')}",`);
    const reopened = await openJournal(path, clock);
    expect(reopened.dedupe.has(d('sender-id-secret-1'), clock.now().getTime())).toBe(true);
    await reopened.close();
  });

  it('reads the dedupe keys of a journal written before digests, and skips a digest it cannot read', async () => {
    const path = await tempJournalPath();
    const clock = new FakeClock('2024-01-01T00:00:00Z');
    const at = clock.now().getTime();
    const contentKey = `sha256:${'ab'.repeat(32)}`;
    const lines = [
      { floor: 7 },
      { dedupe: [['sender-id-old', at], [contentKey, at]] },
      { dedupeDigests: [['not a digest', at], [d('sender-id-new'), at], [d('sender-id-late'), 'yesterday']] },
    ];
    await writeFile(path, lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    const journal = await openJournal(path, clock);
    expect(journal.lastSeq()).toBe(7);
    expect(journal.dedupe.has(d('sender-id-old'), at)).toBe(true);
    expect(journal.dedupe.has(d(contentKey), at)).toBe(true);
    expect(journal.dedupe.has(d(contentKey), at + 301_000)).toBe(false);
    expect(journal.dedupe.has(d('sender-id-new'), at)).toBe(true);
    expect(journal.dedupe.has(d('sender-id-late'), at)).toBe(false);
    expect(journal.dedupe.size).toBe(3);
    await journal.close();
  });

  it('group-commits concurrent appends: every item once, seqs unique and in file order', async () => {
    const path = await tempJournalPath();
    const journal = await openJournal(path);
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => journal.append([sighting(i), sighting(i + 1000)])));
    const all = results.flat();
    expect(new Set(all).size).toBe(600);
    // A line holds seqs first..seq (a group line names its first; a single sighting's line is just seq).
    const fileSeqs = (await readFile(path, 'utf8'))
      .trim()
      .split('\n')
      .flatMap((l) => {
        const { seq, first = seq } = JSON.parse(l) as { seq: number; first?: number };
        return Array.from({ length: seq - first + 1 }, (_, i) => first + i);
      });
    expect(fileSeqs).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
    await journal.close();
  });

  it('refuses appends after close', async () => {
    const journal = await openJournal(await tempJournalPath());
    await journal.close();
    await expect(journal.append([sighting(1)])).rejects.toMatchObject({ code: 'store_unwritable' });
  });
});

describe('DedupeIndex', () => {
  it('forgets content keys after the window but keeps sender ids up to its capacity', () => {
    const index = new DedupeIndex(1000, 2);
    index.remember(d('sha256:a'), 0, 0);
    index.remember(d('id-1'), 0, 0);
    expect(index.has(d('sha256:a'), 999)).toBe(true);
    expect(index.has(d('sha256:a'), 1000)).toBe(false);
    index.remember(d('id-2'), 1, 1);
    index.remember(d('id-3'), 2, 2);
    expect(index.has(d('id-1'), 5000)).toBe(false);
    expect(index.has(d('id-3'), 5_000_000)).toBe(true);
  });

  it('lets go of content keys whose window has passed, a generation at a time', () => {
    const index = new DedupeIndex(1000, 16, 16); // generations of two keys
    for (let t = 0; t < 10; t++) index.remember(d(`sha256:${t}`), t * 100, t * 100);
    expect(index.size).toBe(10);
    index.remember(d('sha256:late'), 5000, 5000);
    // Everything before 4000 has left the window: only the generation taking new keys is left.
    expect(index.size).toBeLessThanOrEqual(2);
    expect(index.has(d('sha256:late'), 5000)).toBe(true);
    expect(index.has(d('sha256:9'), 5000)).toBe(false);
  });

  it('holds at most about its capacity of content keys inside the window', () => {
    const index = new DedupeIndex(60_000, 16, 16);
    for (let t = 0; t < 100; t++) index.remember(d(`sha256:${t}`), t, t);
    expect(index.size).toBeLessThanOrEqual(18);
    expect(index.has(d('sha256:99'), 100)).toBe(true);
    expect(index.has(d('sha256:0'), 100)).toBe(false);
  });

  it('never dedupes content keys with a zero window', () => {
    const index = new DedupeIndex(0);
    index.remember(d('sha256:a'), 0, 0);
    expect(index.has(d('sha256:a'), 0)).toBe(false);
  });

  it('digests keys to 22 characters, marks content keys, and tells different keys apart', () => {
    expect(d('id-1')).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(d('sha256:a')).toMatch(/^~[A-Za-z0-9_-]{22}$/);
    expect(d('id-1')).toBe(d('id-1'));
    expect(new Set(Array.from({ length: 10_000 }, (_, i) => d(`id-${i}`))).size).toBe(10_000);
    expect(DedupeIndex.parseDigest(d('id-1'))).toBe(d('id-1'));
    expect(DedupeIndex.parseDigest('id-1')).toBeUndefined();
  });

  it('gives back the times it was told, years apart, for the journal header', () => {
    const index = new DedupeIndex(60_000);
    const old = Date.parse('2020-01-01T00:00:00Z');
    const now = Date.parse('2026-12-01T00:00:00Z');
    index.remember(d('id-old'), old, now);
    index.remember(d('sha256:b'), now - 1000, now);
    expect([...index.entries(now)]).toEqual([
      [d('id-old'), old],
      [d('sha256:b'), now - 1000],
    ]);
  });
});

describe('SightingJournal under SIGKILL', () => {
  it('keeps every append that resolved before the process was killed', async () => {
    const { spawn } = await import('node:child_process');
    const path = await tempJournalPath();
    const child = spawn(process.execPath, ['--import', 'tsx', new URL('./kill-child.ts', import.meta.url).pathname, path], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const acked: number[] = [];
    let buffered = '';
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', () => resolve());
      child.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) acked.push(Number(line.slice(4)));
        if (acked.length >= 3000 && !child.killed) child.kill('SIGKILL');
      });
    });
    expect(acked.length).toBeGreaterThanOrEqual(3000);
    const journal = await openJournal(path);
    const stored = new Set((await collect(journal.replay(0))).map((e) => e.seq));
    expect(acked.filter((seq) => !stored.has(seq))).toEqual([]);
    expect(journal.lastSeq()).toBeGreaterThanOrEqual(Math.max(...acked));
    expect(await journal.append([sighting(1)])).toEqual([journal.lastSeq()]);
    await journal.close();
  });

  it('works with fsync on', async () => {
    const path = await tempJournalPath();
    const journal = await SightingJournal.open({ path, clock: new FakeClock(), logger: silentLogger, dedupeWindowSeconds: 300, fsync: true });
    expect(await journal.append([sighting(1), sighting(2)])).toEqual([1, 2]);
    await journal.close();
  });
});

/** The open flags of this process's file descriptors on `path` (Linux's /proc/self/fdinfo), or undefined elsewhere. */
async function openFlagsOf(path: string): Promise<number[] | undefined> {
  const fds = await readdir('/proc/self/fd').catch(() => undefined);
  if (!fds) return undefined;
  const flags: number[] = [];
  for (const fd of fds) {
    if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')) !== path) continue;
    const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8').catch(() => '');
    const m = /^flags:\s*([0-7]+)/m.exec(info);
    if (m) flags.push(parseInt(m[1]!, 8));
  }
  return flags;
}

describe.runIf(process.platform === 'linux')('SightingJournal durability (Linux)', () => {
  const { O_DSYNC } = constants;

  it('with fsync on, every group is written O_DSYNC (on disk when the write returns), also after a compaction', async () => {
    const path = await tempJournalPath();
    const journal = await SightingJournal.open({ path, clock: new FakeClock('2024-01-01T00:00:00Z'), logger: silentLogger, dedupeWindowSeconds: 300, fsync: true });
    await journal.append([sighting(1), sighting(2)]);
    expect((await openFlagsOf(path))!.map((f) => (f & O_DSYNC) !== 0)).toEqual([true]);
    await journal.compact(1);
    expect((await openFlagsOf(path))!.map((f) => (f & O_DSYNC) !== 0)).toEqual([true]);
    expect(await journal.append([sighting(3)])).toEqual([3]);
    await journal.close();
  });

  it('with fsync off, writes are not synchronous', async () => {
    const path = await tempJournalPath();
    const journal = await openJournal(path);
    await journal.append([sighting(1)]);
    expect((await openFlagsOf(path))!.map((f) => (f & O_DSYNC) !== 0)).toEqual([false]);
    await journal.close();
  });
});
