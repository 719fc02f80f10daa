import type { AddressInfo } from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { systemClock, type Clock } from '../../../../src/core/clock.js';
import { silentLogger } from '../../../../src/core/logger.js';
import { SightingJournal } from '../../../../src/store/journal/journal.js';
import { JournaledIntake, type SequencedSighting, type SightingProcessor } from '../../../../src/store/journal/intake.js';
import { createSightingsRouter, SIGHTINGS_PATH, type SightingsRouterOptions } from '../../../../src/transport/http/sightings/route.js';

export const HMAC_SECRET = 'test-hmac-secret-0123456789';
export const BEARER = 'test-bearer-token-0123456789';

/** The seed's example CTIM sighting (seeds.md §1.2), id removed, as a module would send it. */
export function ampSighting(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'sighting',
    severity: 'Low',
    internal: true,
    confidence: 'High',
    count: 1,
    description: 'Outgoing connection Sighting',
    source: 'AMP Event - sxo-sighting',
    targets: [
      {
        type: 'endpoint',
        os: 'Windows 10 Enterprise',
        observed_time: { start_time: '2022-02-07T17:18:28.000Z' },
        observables: [
          { type: 'amp_computer_guid', value: '9d9f3a52-5b6c-4c2a-9a32-6c1d4f0e7e11' },
          { type: 'ip', value: '192.168.70.220' },
          { type: 'mac_address', value: '00:0c:29:0f:6f:0a' },
          { type: 'hostname', value: 'Heimdallr' },
        ],
      },
    ],
    observables: [{ type: 'url', value: 'https://ictoms.site/ictom.zip' }],
    observed_time: { start_time: '2022-02-07T17:18:28.000Z' },
    sensor: 'endpoint',
    tlp: 'amber',
    ...overrides,
  };
}

/** The seed's 7-field module payload (seeds.md §1.9). */
export function modulePayload(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    target_type: 'hostname',
    target_value: 'heimdallr',
    ioc_type: 'url',
    ioc_value: 'https://ictoms.site/ictom.zip',
    event_source: 'AMP for Endpoints',
    target_observed_time: '2022-02-07T17:18:28.000Z',
    sighting_json: JSON.stringify(ampSighting()),
    ...overrides,
  };
}

export class RecordingProcessor implements SightingProcessor {
  readonly received: SequencedSighting[] = [];
  failNext = 0;
  private applied = 0;
  constructor(applied = 0) {
    this.applied = applied;
  }
  async ingest(items: SequencedSighting[]): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('engine down');
    }
    this.received.push(...items);
    this.applied = items.at(-1)!.seq;
  }
  lastAppliedSeq(): number {
    return this.applied;
  }
}

export async function tempJournalPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sightline-journal-'));
  return join(dir, 'state.json.journal');
}

export interface TestServer {
  url: string;
  journal: SightingJournal;
  intake: JournaledIntake;
  processor: RecordingProcessor;
  close(): Promise<void>;
}

export async function startServer(
  options: Partial<Omit<SightingsRouterOptions, 'intake'>> & { clock?: Clock; dedupeWindowSeconds?: number } = {},
): Promise<TestServer> {
  const clock = options.clock ?? systemClock;
  const journal = await SightingJournal.open({
    path: await tempJournalPath(),
    clock,
    logger: silentLogger,
    dedupeWindowSeconds: options.dedupeWindowSeconds ?? 300,
  });
  const processor = new RecordingProcessor();
  const intake = new JournaledIntake({ journal, processor, clock, logger: silentLogger, retryDelayMs: 5 });
  const app = express();
  app.use(
    createSightingsRouter({
      intake,
      auth: options.auth ?? { hmacSecret: HMAC_SECRET, bearerToken: BEARER },
      bodyLimitBytes: options.bodyLimitBytes,
      maxBatch: options.maxBatch ?? 1000,
      logger: silentLogger,
      clock,
    }),
  );
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${SIGHTINGS_PATH}`,
    journal,
    intake,
    processor,
    close: async () => {
      await intake.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await journal.close();
    },
  };
}
