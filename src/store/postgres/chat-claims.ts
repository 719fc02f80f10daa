import type pg from 'pg';
import { poolError } from './pool.js';

/** How long a handled chat event is remembered (Webex redelivers within minutes, not days). */
export const CHAT_CLAIM_RETENTION_HOURS = 24;

/**
 * `claim(eventId)`: true for the one instance that gets to answer this Webex message or card
 * click, false for every other (and for a redelivery of one already answered).
 */
export function chatClaims(pool: pg.Pool, instance: string): { claim(eventId: string): Promise<boolean>; prune(): Promise<number> } {
  return {
    async claim(eventId) {
      try {
        const { rowCount } = await pool.query('INSERT INTO chat_claims (event_id, instance) VALUES ($1, $2) ON CONFLICT DO NOTHING', [eventId, instance]);
        return rowCount === 1;
      } catch (err) {
        throw poolError(pool, err, 'claiming a chat message');
      }
    },
    async prune() {
      const { rowCount } = await pool.query(`DELETE FROM chat_claims WHERE claimed_at < now() - make_interval(hours => $1)`, [CHAT_CLAIM_RETENTION_HOURS]);
      return rowCount ?? 0;
    },
  };
}
