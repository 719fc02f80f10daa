import { z } from 'zod';
import type { State } from '../store/state.js';

/**
 * The `modules` section of the state file: what the RSS and X modules must
 * remember across restarts so they never re-investigate what they already saw.
 */
export interface RssFeedState {
  etag?: string;
  lastModified?: string;
  /** Ids of items already investigated, newest last, bounded by MAX_SEEN_ITEMS. */
  seen: string[];
  lastPolledAt?: string;
  lastError?: string;
}

export interface XModuleState {
  /** Newest tweet id whose batch was accepted; sent as `since_id` next time. */
  sinceId?: string;
  /** The query the since_id belongs to: a changed query starts afresh. */
  query?: string;
  /** A 429 asked us to wait until then (ISO time). */
  pausedUntil?: string;
}

export interface ModulesState {
  rss: Record<string, RssFeedState>;
  x: XModuleState;
}

export const MAX_SEEN_ITEMS = 500;

export const modulesStateSchema = z.object({
  rss: z
    .record(
      z.string(),
      z.object({
        etag: z.string().optional(),
        lastModified: z.string().optional(),
        seen: z.array(z.string()).default([]),
        lastPolledAt: z.string().optional(),
        lastError: z.string().optional(),
      }),
    )
    .default({}),
  x: z.object({ sinceId: z.string().optional(), query: z.string().optional(), pausedUntil: z.string().optional() }).default({}),
});

/**
 * The section as stored (call inside `store.update`), created when missing. A hand-edited section that does
 * not match the shape is replaced by an empty one: the worst outcome is that
 * recent items are investigated once more (the intake dedupes the sightings).
 */
export function modulesStateOf(state: State): ModulesState {
  const value = readModulesState(state);
  state.modules = value;
  return value;
}

/** Read-only view for code that must not mutate outside `store.update`. */
export function readModulesState(state: Readonly<State>): ModulesState {
  const parsed = modulesStateSchema.safeParse(state.modules ?? {});
  return parsed.success ? parsed.data : { rss: {}, x: {} };
}
