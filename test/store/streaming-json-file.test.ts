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

  it('writes a leaf given as UTF-8 bytes as it is, next to text made afresh, whatever the characters', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sjf-'));
    const file = new StreamingJsonFile<unknown>(join(dir, 'b.json'), {
      sliceMs: 0,
      flushBytes: 64,
      // Every other entry of the map comes as bytes, as the store gives an unchanged incident.
      leaf: (value, p) => (p[0] === 'map' && Number(p[1]?.slice(1)) % 2 === 0 ? Buffer.from(JSON.stringify(value)) : undefined),
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

    /** Every write of a file handle takes 2 ms longer, as on a busy disk. */
    async function slowDisk(dir: string): Promise<void> {
      const probe = await open(join(dir, 'probe'), 'w');
      const proto = Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => Promise<unknown> };
      await probe.close();
      const write = proto.write;
      vi.spyOn(proto, 'write').mockImplementation(async function (this: unknown, ...args: unknown[]) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        return write.apply(this, args);
      });
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

    it('(the same disk without the bound holds far more: the test above measures something)', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sjf-'));
      await slowDisk(dir);
      const file = new StreamingJsonFile<typeof state>(join(dir, 'slow.json'), { sliceMs: 0, flushBytes: 16_384, maxQueuedBytes: Number.POSITIVE_INFINITY });
      await file.write(state);
      expect(file.lastMaxQueued).toBeGreaterThan(500_000);
    });
  });
});
