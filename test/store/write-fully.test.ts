import type { FileHandle } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { writevFully } from '../../src/store/write-fully.js';

/** A file handle whose every writev takes at most `max` bytes, as a kernel may (signals, a full pipe, a busy disk). */
function shortWriter(max: number): { fh: FileHandle; written: () => string; calls: () => number } {
  const out: number[] = [];
  let calls = 0;
  const fh = {
    async writev(buffers: Uint8Array[]) {
      calls++;
      let taken = 0;
      for (const b of buffers) {
        for (const byte of b) {
          if (taken === max) break;
          out.push(byte);
          taken++;
        }
      }
      return { bytesWritten: taken, buffers };
    },
  } as unknown as FileHandle;
  return { fh, written: () => Buffer.from(out).toString('utf8'), calls: () => calls };
}

describe('writevFully', () => {
  it('writes every buffer in order when each call takes only part of them, splitting inside a buffer too', async () => {
    const { fh, written, calls } = shortWriter(5);
    const parts = ['{"a":', '', '"één"', ',"b":[1,2,3]', '}'].map((s) => Buffer.from(s));
    await writevFully(fh, parts);
    expect(written()).toBe('{"a":"één","b":[1,2,3]}');
    expect(calls()).toBe(Math.ceil(Buffer.concat(parts).length / 5));
  });

  it('writes everything in one call when the kernel takes it all', async () => {
    const { fh, written, calls } = shortWriter(Number.POSITIVE_INFINITY);
    await writevFully(fh, [Buffer.from('ab'), Buffer.from('cd')]);
    expect(written()).toBe('abcd');
    expect(calls()).toBe(1);
  });
});
