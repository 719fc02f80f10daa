import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
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

  it('reads back what it wrote, and null when there is no file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sjf-'));
    const file = new StreamingJsonFile<{ a: number[] }>(join(dir, 'y.json'));
    expect(await file.read()).toBeNull();
    await file.write({ a: Array.from({ length: 10_000 }, (_, i) => i) });
    expect((await file.read())?.a).toHaveLength(10_000);
  });
});
