import { mkdtemp, open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StreamingJsonFile } from '../../src/store/streaming-json-file.js';

describe('StreamingJsonFile', () => {
  it('writes exactly what JSON.stringify would, for any JSON value', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sjf-'));
    const file = new StreamingJsonFile<unknown>(join(dir, 'x.json'), { sliceMs: 0, flushBytes: 64 });
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), fc.array(fc.jsonValue(), { minLength: 70, maxLength: 90 }), async (v, bigList) => {
        const data = { v, bigList, map: Object.fromEntries(bigList.map((x, i) => [`k${i}`, x])), skipped: undefined };
        await file.write(data);
        expect(await readFile(join(dir, 'x.json'), 'utf8')).toBe(JSON.stringify(data));
      }),
      { numRuns: 60 },
    );
  });

  it('writes a leaf\'s kept bytes and texts as they are, next to text made afresh, whatever the characters', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sjf-'));
    const file = new StreamingJsonFile<unknown>(join(dir, 'b.json'), {
      sliceMs: 0,
      flushBytes: 64,
      // Every other entry of the map comes as kept bytes, as the store gives an unchanged incident, and
      // every third in pieces with a kept text in the middle, as a queued XDR body; the rest is stringified.
      leaf: (value, p, sink) => {
        const n = Number(p[1]?.slice(1));
        if (p[0] !== 'map') return false;
        if (n % 2 === 0) sink.kept(Buffer.from(JSON.stringify(value)));
        else if (n % 3 === 0) {
          const { s, n: number } = value as { s: string; n: number };
          sink.text('{"s":');
          sink.kept(JSON.stringify(s));
          sink.text(`,"n":${number}}`);
        } else return false;
        return true;
      },
    });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ s: fc.string({ unit: 'binary' }), n: fc.integer() }), { minLength: 70, maxLength: 90 }), async (list) => {
        const data = { map: Object.fromEntries(list.map((x, i) => [`k${i}`, x])), tail: 'é\u{1F600}' };
        await file.write(data);
        expect(await readFile(join(dir, 'b.json'), 'utf8')).toBe(JSON.stringify(data));
      }),
      { numRuns: 30 },
    );
  });

  it('reads back what it wrote, and null when there is no file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sjf-'));
    const file = new StreamingJsonFile<{ a: number[] }>(join(dir, 'y.json'));
    expect(await file.read()).toBeNull();
    await file.write({ a: Array.from({ length: 10_000 }, (_, i) => i) });
    expect((await file.read())?.a).toHaveLength(10_000);
  });

  describe('when the disk is slower than the serialiser', () => {
    afterEach(() => {
      vi.restoreAllMocks();
    });

    /** Every write of a file handle takes 2 ms longer, as on a busy disk. Returns how many writes have completed so far. */
    async function slowDisk(dir: string): Promise<() => number> {
      const probe = await open(join(dir, 'probe'), 'w');
      const proto = Object.getPrototypeOf(probe) as Record<'write' | 'writev', (...args: unknown[]) => Promise<unknown>>;
      await probe.close();
      let completed = 0;
      for (const method of ['write', 'writev'] as const) {
        const real = proto[method];
        vi.spyOn(proto, method).mockImplementation(async function (this: unknown, ...args: unknown[]) {
          await new Promise((resolve) => setTimeout(resolve, 2));
          const result = await real.apply(this, args);
          completed++;
          return result;
        });
      }
      return () => completed;
    }

    const state = { rows: Array.from({ length: 4_000 }, (_, i) => ({ i, text: 'x'.repeat(500) })) };

    it('waits for the disk instead of holding the whole text in memory', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sjf-'));
      await slowDisk(dir);
      const file = new StreamingJsonFile<typeof state>(join(dir, 'slow.json'), { sliceMs: 0, flushBytes: 16_384, maxQueuedBytes: 65_536 });
      await file.write(state);
      expect(file.lastMaxQueued).toBeLessThanOrEqual(65_536 + 16_384 + 600);
      expect(await readFile(join(dir, 'slow.json'), 'utf8')).toBe(JSON.stringify(state));
    });

    /**
     * How far the disk had got when serialising ended, as a share of all the writes: the state's rows
     * given by the leaf as bytes kept by the caller (as the store gives unchanged incidents) or as text.
     */
    async function diskDoneWhenSerialised(dir: string, kept: boolean): Promise<number> {
      const completed = await slowDisk(dir);
      const rowBytes = new Map(state.rows.map((row) => [row, Buffer.from(JSON.stringify(row))]));
      let atLastLeaf = 0;
      const file = new StreamingJsonFile<typeof state>(join(dir, kept ? 'kept.json' : 'text.json'), {
        sliceMs: 0,
        flushBytes: 16_384,
        maxQueuedBytes: 65_536,
        leaf: (row, _path, sink) => {
          atLastLeaf = completed();
          if (kept) sink.kept(rowBytes.get(row as (typeof state.rows)[number])!);
          else sink.text(JSON.stringify(row));
          return true;
        },
      });
      await file.write(state);
      expect(await readFile(join(dir, kept ? 'kept.json' : 'text.json'), 'utf8')).toBe(JSON.stringify(state));
      return atLastLeaf / completed();
    }

    it('holds bytes the caller keeps by reference: serialising (which holds the store\'s updates) does not wait for the disk to take them', async () => {
      const kept = await diskDoneWhenSerialised(await mkdtemp(join(tmpdir(), 'sjf-')), true);
      vi.restoreAllMocks();
      const text = await diskDoneWhenSerialised(await mkdtemp(join(tmpdir(), 'sjf-')), false);
      expect(kept).toBeLessThan(0.2);
      // The same rows as text made now wait for the disk: most writes are done before the last row is serialised.
      expect(text).toBeGreaterThan(0.6);
    });

    it('(the same disk without the bound holds far more: the test above measures something)', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sjf-'));
      await slowDisk(dir);
      const file = new StreamingJsonFile<typeof state>(join(dir, 'slow.json'), { sliceMs: 0, flushBytes: 16_384, maxQueuedBytes: Number.POSITIVE_INFINITY });
      await file.write(state);
      expect(file.lastMaxQueued).toBeGreaterThan(500_000);
    });
  });
});
