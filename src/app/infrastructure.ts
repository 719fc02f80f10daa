import { secretsOf, type Config } from '../config/load.js';
import { systemClock, type Clock } from '../core/clock.js';
import { createLogger, type Logger } from '../core/logger.js';
import { journalPathFor, SightingJournal } from '../store/journal/journal.js';
import { LowdbStore } from '../store/lowdb-store.js';
import type { Capability } from './capability.js';
import { openClients } from './clients.js';
import type { Base } from './parts.js';

export interface InfrastructureOptions {
  config: Config;
  logger?: Logger;
  clock?: Clock;
}

/** What every capability shares: the durable store and journal, metrics and the outside clients. */
export interface Infrastructure extends Capability, Base {
  store: LowdbStore;
  /** The sightings journal: what a 202 promised, until the engine's effects are in the state. */
  journal: SightingJournal;
  /** Writes the state a last time; after every capability has stopped. */
  closeState(): Promise<void>;
}

export async function openInfrastructure(opts: InfrastructureOptions): Promise<Infrastructure> {
  const { config } = opts;
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? createLogger({ level: config.logLevel, secrets: secretsOf(config) });

  const store = await LowdbStore.open(config.stateFile);
  const { metrics, xdr, webex } = await openClients(config, logger);

  const journal = await SightingJournal.open({
    path: journalPathFor(config.stateFile),
    clock,
    logger,
    dedupeWindowSeconds: config.sightings.dedupeWindowSeconds,
    fsync: config.sightings.journalFsync,
  });

  return {
    name: 'infrastructure',
    config,
    clock,
    logger,
    store,
    journal,
    metrics,
    xdr,
    webex,
    storeReadiness: () => ({ ok: store.writable, detail: store.writable ? undefined : 'the state file could not be written; check disk space and permissions' }),
    halt: () => store.hurry(),
    // Closed after the intake that appends to it and the engine that compacts it.
    stop: (step) => step('journal', () => journal.close()),
    closeState: () => store.close(),
  };
}
