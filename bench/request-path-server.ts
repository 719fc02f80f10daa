import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { systemClock } from '../src/core/clock.js';
import { silentLogger } from '../src/core/logger.js';
import { SANDBOX_SIGHTINGS_SECRET } from '../src/sandbox/world.js';
import { startHttpServer } from '../src/transport/http/server.js';
import { JournaledIntake, type SequencedSighting, type SightingProcessor } from '../src/store/journal/intake.js';
import { SightingJournal } from '../src/store/journal/journal.js';
import { createSightingsRouter } from '../src/transport/http/sightings/route.js';
import { startFloorIngest } from './floor-ingest.js';

/**
 * Child-process entry for the request-path benchmark: `sightline` runs only the bot's HTTP
 * server with the sightings route, its journal (fdatasync on, as by default) and the intake,
 * handing items to a processor that does nothing — no correlation, no XDR, no snapshots —
 * so the CPU it reports is the request path's own. `floor` runs the floor server.
 * Driven over IPC: `stats`, `stop`.
 */
const mode = process.argv[2];
const send = (msg: unknown) => process.send?.(msg);
const dir = await mkdtemp(path.join(tmpdir(), 'sightline-bench-path-'));

class NothingProcessor implements SightingProcessor {
  private applied = 0;
  async ingest(items: SequencedSighting[]): Promise<void> {
    this.applied = items.at(-1)?.seq ?? this.applied;
  }
  lastAppliedSeq(): number {
    return this.applied;
  }
}

let close: () => Promise<void>;
if (mode === 'sightline') {
  const journal = await SightingJournal.open({ path: path.join(dir, 'state.json.journal'), clock: systemClock, logger: silentLogger, dedupeWindowSeconds: 300, fsync: true });
  const intake = new JournaledIntake({ journal, processor: new NothingProcessor(), clock: systemClock, logger: silentLogger });
  const router = createSightingsRouter({ intake, auth: { hmacSecret: SANDBOX_SIGHTINGS_SECRET }, maxBatch: 1000, logger: silentLogger, clock: systemClock });
  const http = await startHttpServer({ host: '127.0.0.1', port: 0, rateLimitPerMinute: 1_000_000, logger: silentLogger, routers: [router] });
  close = async () => {
    await intake.stop();
    await http.close();
    await journal.close();
  };
  send({ ready: true, url: http.url });
} else if (mode === 'floor') {
  const floor = await startFloorIngest({ file: path.join(dir, 'floor.journal'), secret: SANDBOX_SIGHTINGS_SECRET });
  close = () => floor.close();
  send({ ready: true, url: floor.url });
} else {
  throw new Error(`usage: request-path-server.ts sightline|floor (got ${mode})`);
}

process.on('message', (msg: { cmd: 'stats' | 'stop'; id: number }) => {
  if (msg.cmd === 'stats') send({ id: msg.id, cpu: process.cpuUsage() });
  else void close().then(() => (send({ id: msg.id, stopped: true }), process.exit(0)));
});
