/**
 * Advisory lock keys, in PostgreSQL's two-int form (space, id): the space is "SGHL" in
 * ASCII so another application on the same database does not pick the same locks by chance.
 * Each id has one meaning; never reuse one for something else.
 */
export const LOCK_SPACE = 0x5347484c;

export const LOCKS = {
  /** Held while schema migrations are checked and applied (migrate.ts). */
  migrate: 1,
  /** Held by the leader for as long as it leads (leader.ts). */
  leader: 2,
  /** Held by the instance running a Talos hunt, for as long as it runs (hunt-lock.ts). */
  hunt: 3,
  /** Held while an instance looks up or creates a Webex room by title (withAdvisoryLock). */
  rooms: 4,
} as const;
