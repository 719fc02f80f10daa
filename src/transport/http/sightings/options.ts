import type { Clock } from '../../../core/clock.js';
import type { Logger } from '../../../core/logger.js';
import type { SightingIntake } from '../../../domain/correlation/intake.js';
import type { SightingsRecorder } from '../../../observability/metrics.js';
import type { SightingsAuthConfig } from './auth.js';
import type { ItemProblem } from './schemas.js';

export const SIGHTINGS_PATH = '/api/v1/sightings';
export const DEFAULT_BODY_LIMIT_BYTES = 5 * 1024 * 1024;

export interface SightingsRouterOptions {
  intake: SightingIntake;
  auth: SightingsAuthConfig;
  bodyLimitBytes?: number;
  maxBatch: number;
  logger: Logger;
  clock: Clock;
  /** Counts accepted, duplicate and refused sightings when metrics are on. */
  metrics?: SightingsRecorder;
}

export interface SightingsAccepted {
  accepted: number;
  duplicates: number;
  rejected: ItemProblem[];
  /** The dedupe key of every valid sighting, in order: the sender's id when it gave one. */
  ids: string[];
}
