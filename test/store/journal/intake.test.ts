import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { IncomingSighting } from '../../../src/domain/correlation/intake.js';
import { JournaledIntake } from '../../../src/store/journal/intake.js';
import { DedupeIndex, SightingJournal } from '../../../src/store/journal/journal.js';
import { RecordingProcessor, tempJournalPath } from '../../transport/http/sightings/helpers.js';

const clock = new FakeClock('2024-01-01T00:00:00Z');

function sighting(key: string): IncomingSighting {
  return {
    dedupeKey: key,
    target: { type: 'endpoint', observables: [{ type: 'hostname', value: 'h1' }] },
    ioc: { type: 'domain', value: 'evil.example' },
    source: 'test',
    observedAt: '2022-02-07T17:18:28.000Z',
  };
}

async function setup(path?: string, processor = new RecordingProcessor(), extra: { maxPending?: number; maxProcessBatch?: number } = {}) {
  const journal = await SightingJournal.open({ path: path ?? (await tempJournalPath()), clock, logger: silentLogger, dedupeWindowSeconds: 300 });
  const intake = new JournaledIntake({ journal, processor, clock, logger: silentLogger, retryDelayMs: 1, ...extra });
  return { journal, intake, processor };
}

describe('JournaledIntake', () => {
  it('dedupes within a batch and across batches, and hands new items to the processor with seqs', async () => {
    const { journal, intake, processor } = await setup();
    expect(await intake.accept([sighting('a'), sighting('a'), sighting('b')])).toEqual({ accepted: 2, duplicates: 1 });
    expect(await intake.accept([sighting('b'), sighting('c')])).toEqual({ accepted: 1, duplicates: 1 });
    await intake.idle();
    expect(processor.received.map((s) => [s.dedupeKey, s.seq])).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
    await intake.stop();
    await journal.close();
  });

  it('counts a backlog in batches with a turn of the event loop between them, so requests are answered meanwhile', async () => {
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    class GatedProcessor extends RecordingProcessor {
      override async ingest(items: Parameters<RecordingProcessor['ingest']>[0]): Promise<void> {
        await gate; // as counting waits while a snapshot is being written
        events.push(`batch ${items.length}`);
        setImmediate(() => events.push('turn'));
        await super.ingest(items);
      }
    }
    const { journal, intake, processor } = await setup(undefined, new GatedProcessor());
    await intake.accept([sighting('first')]);
    await new Promise((resolve) => setImmediate(resolve)); // the first batch is taken and waits at the gate
    await intake.accept(Array.from({ length: 300 }, (_, i) => sighting(`backlog-${i}`)));
    release();
    await intake.idle();
    expect(processor.received).toHaveLength(301);
    const batches = events.filter((e) => e.startsWith('batch'));
    expect(batches.length).toBeGreaterThanOrEqual(4); // 1, then 300 at most 128 at a time
    for (let i = 1; i < events.length; i++) {
      if (events[i]!.startsWith('batch')) expect(events[i - 1]).toBe('turn');
    }
    await intake.stop();
    await journal.close();
  });

  it('a processing failure loses nothing: the items are caught up from the journal', async () => {
    const processor = new RecordingProcessor();
    processor.failNext = 2;
    const { journal, intake } = await setup(undefined, processor);
    await intake.accept([sighting('a')]);
    await intake.accept([sighting('b'), sighting('c')]);
    await intake.idle();
    expect(processor.received.map((s) => s.dedupeKey)).toEqual(['a', 'b', 'c']);
    await intake.stop();
    await journal.close();
  });

  it('recover() replays what the processor had not applied before a restart', async () => {
    const path = await tempJournalPath();
    const first = await setup(path);
    await first.intake.stop(); // the process "dies" before processing anything
    await first.intake.accept([sighting('a'), sighting('b'), sighting('c')]);
    await first.journal.close();

    const processor = new RecordingProcessor(1); // seq 1 was durably applied before the crash
    const second = await setup(path, processor);
    expect(await second.intake.recover()).toEqual({ replayed: 2, caughtUp: true });
    expect(processor.received.map((s) => [s.dedupeKey, s.seq])).toEqual([
      ['b', 2],
      ['c', 3],
    ]);
    expect(await second.intake.accept([sighting('a'), sighting('d')])).toEqual({ accepted: 1, duplicates: 1 });
    await second.intake.idle();
    expect(processor.received.map((s) => s.seq)).toEqual([2, 3, 4]);
    await second.intake.stop();
    await second.journal.close();
  });

  it('recover() reports a failing processor and keeps retrying in the background', async () => {
    const path = await tempJournalPath();
    const first = await setup(path);
    await first.intake.stop();
    await first.intake.accept([sighting('a')]);
    await first.journal.close();

    const processor = new RecordingProcessor();
    processor.failNext = 1;
    const second = await setup(path, processor);
    expect(await second.intake.recover()).toEqual({ replayed: 0, caughtUp: false });
    await second.intake.idle();
    expect(processor.received.map((s) => s.dedupeKey)).toEqual(['a']);
    await second.intake.stop();
    await second.journal.close();
  });

  it('falls back to the journal when too much waits in memory, delivering each item once in order', async () => {
    const { journal, intake, processor } = await setup(undefined, new RecordingProcessor(), { maxPending: 5, maxProcessBatch: 3 });
    await Promise.all(Array.from({ length: 40 }, (_, i) => intake.accept([sighting(`k${i}`)])));
    await intake.idle();
    expect(processor.received.map((s) => s.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    await intake.stop();
    await journal.close();
  });

  it('a failed append is an error and does not mark the sighting as seen', async () => {
    const { journal, intake } = await setup();
    await journal.close();
    await expect(intake.accept([sighting('a')])).rejects.toMatchObject({ code: 'store_unwritable', httpStatus: 503 });
    expect(journal.dedupe.has(DedupeIndex.digest('a'), clock.now().getTime())).toBe(false);
  });
});
