/**
 * Child process for the SIGKILL test: appends to a journal as fast as it can and
 * prints `ack <seq>` for every append that resolved, until it is killed.
 */
import { systemClock } from '../../../src/core/clock.js';
import { silentLogger } from '../../../src/core/logger.js';
import { SightingJournal } from '../../../src/store/journal/journal.js';

const journal = await SightingJournal.open({ path: process.argv[2]!, clock: systemClock, logger: silentLogger, dedupeWindowSeconds: 300 });
let n = 0;
async function writer(): Promise<never> {
  for (;;) {
    const key = `kill-${n++}`;
    const seqs = await journal.append([
      { dedupeKey: key, target: { type: 'endpoint', observables: [{ type: 'hostname', value: key }] }, ioc: { type: 'domain', value: 'evil.example' }, source: 'kill-test', observedAt: '2022-02-07T17:18:28.000Z' },
    ]);
    process.stdout.write(`ack ${seqs[0]}\n`);
  }
}
await Promise.all(Array.from({ length: 16 }, writer));
