import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { findGc, startIdleGc } from '../../src/observability/idle-gc.js';

/** A process whose event-loop business the test sets by hand. */
function fakeProcess() {
  const p = { busy: 0, calls: 0 };
  return { p, opts: { logger: silentLogger, intervalMs: 3_600_000, loopBusy: () => p.busy, gc: () => void p.calls++ } };
}

describe('idle garbage collection', () => {
  it('collects when idle and the heap grew past the last live size; not while it has not grown', () => {
    const { p, opts } = fakeProcess();
    const idle = startIdleGc({ ...opts, growthBytes: 0 });
    const strict = startIdleGc({ ...opts, growthBytes: 2 ** 40 });
    try {
      p.busy = 0.02;
      expect(idle.check()).toBe(true);
      expect(strict.check()).toBe(false); // no heap grows by a terabyte: nothing worth collecting
      expect(p.calls).toBe(1); // one collection, compacting every page
    } finally {
      idle.stop();
      strict.stop();
    }
  });

  it('never collects while the process is busy', () => {
    const { p, opts } = fakeProcess();
    const idle = startIdleGc({ ...opts, growthBytes: 0 });
    try {
      p.busy = 0.95; // a flood is on
      expect(idle.check()).toBe(false);
      p.busy = 0.1; // quiet again
      expect(idle.check()).toBe(true);
      expect(p.calls).toBe(1);
    } finally {
      idle.stop();
    }
  });

  it('drops what only a busy process needs at every quiet look, never in a flood, and says when it is busy again', () => {
    const { p, opts } = fakeProcess();
    let dropped = 0;
    let busy = 0;
    const idle = startIdleGc({ ...opts, growthBytes: 2 ** 40, onQuiet: () => void dropped++, onBusy: () => void busy++ });
    try {
      p.busy = 0.95;
      idle.check();
      expect(dropped).toBe(0);
      expect(busy).toBe(1);
      p.busy = 0.1;
      idle.check();
      idle.check();
      expect(dropped).toBe(2);
      expect(busy).toBe(1);
      expect(p.calls).toBe(0); // nothing grew: dropping is not a collection
    } finally {
      idle.stop();
    }
  });

  it('collects when the heap V8 holds grew though the heap in use did not (after a flood V8 collected but kept the pages)', () => {
    const { p, opts } = fakeProcess();
    const MB = 1048576;
    const h = { used: 60 * MB, committed: 90 * MB };
    const idle = startIdleGc({ ...opts, growthBytes: 24 * MB, heap: () => h });
    try {
      expect(idle.check()).toBe(true); // the first look, after start-up
      h.committed = 110 * MB; // grew, but less than 24 MB
      expect(idle.check()).toBe(false);
      h.committed = 200 * MB; // a flood came and went: V8 collected (used is back at 60) but holds its peak
      expect(idle.check()).toBe(true);
      expect(idle.check()).toBe(false); // and not again while nothing changes
      expect(p.calls).toBe(2);
    } finally {
      idle.stop();
    }
  });

  it("collects when V8's own collections left the old space's pages mostly free, once", () => {
    const { p, opts } = fakeProcess();
    const MB = 1048576;
    const h = { used: 60 * MB, committed: 120 * MB, oldFree: 2 * MB };
    const idle = startIdleGc({ ...opts, growthBytes: 24 * MB, heap: () => h });
    try {
      expect(idle.check()).toBe(true); // the first look
      h.oldFree = 33 * MB; // after a flood: in use and held back near their sizes, a third of the old space free
      expect(idle.check()).toBe(true);
      expect(idle.check()).toBe(false); // the compaction could not give it back (the fake heap kept it): not again and again
      expect(p.calls).toBe(2);
    } finally {
      idle.stop();
    }
  });

  it('takes two ordinary passes when V8 cannot be asked to compact every page', () => {
    const { p, opts } = fakeProcess();
    const idle = startIdleGc({ ...opts, growthBytes: 0, compacting: () => false });
    try {
      expect(idle.check()).toBe(true);
      expect(p.calls).toBe(2);
    } finally {
      idle.stop();
    }
  });

  it('finds the collector on its own (no --expose-gc needed), and it frees garbage', () => {
    const gc = findGc();
    expect(typeof gc).toBe('function');
    let junk: unknown[] | undefined = Array.from({ length: 200_000 }, (_, i) => ({ i, s: `x${i}` }));
    expect(junk.length).toBe(200_000);
    junk = undefined;
    const before = process.memoryUsage().heapUsed;
    gc!();
    expect(process.memoryUsage().heapUsed).toBeLessThan(before);
  });
});
