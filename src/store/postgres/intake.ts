import type { IncomingSighting, SightingIntake } from '../../domain/correlation/intake.js';
import type { PostgresSightingsLog } from './sightings-log.js';

/**
 * The sightings intake on PostgreSQL: `accept` resolves once the sightings are committed to the
 * shared log (the 202 point; an id seen before on any instance is a duplicate), then wakes this
 * instance's apply loop so they are counted at once rather than at its next poll.
 */
export class PostgresIntake implements SightingIntake {
  constructor(
    private readonly log: PostgresSightingsLog,
    private readonly loop?: { wake(): void },
  ) {}

  async accept(items: IncomingSighting[]): Promise<{ accepted: number; duplicates: number }> {
    const { accepted, duplicates } = await this.log.append(items);
    if (accepted > 0) this.loop?.wake();
    return { accepted, duplicates };
  }
}
