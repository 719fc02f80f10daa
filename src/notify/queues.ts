import type { OutboxItem } from '../store/state.js';
import type { Notification } from './notification.js';

/** What `Outbox.queueStats()` reports: one entry per non-empty queue (a channel's room). */
export interface QueueStat {
  channel: string;
  /** The queue within the channel: a Webex room title, or the channel's name. */
  queue: string;
  depth: number;
  oldestAgeMs: number;
  /** When an item last left this queue (delivered or dead-lettered) in this process. */
  lastProgressAt?: string;
  /** How long the queue has waited without moving (0 when its head just arrived). */
  stalledForMs: number;
  headKind: string;
  headAttempts: number;
  headError?: string;
  /** In storm mode: incident news goes out as digests. */
  storm?: boolean;
}

export interface QueueStats {
  queues: QueueStat[];
  deadLetters: number;
  lastDeadLetterAt?: string;
}

export function laneOf(i: Pick<OutboxItem, 'channel' | 'key'>): string {
  return `${i.channel}:${i.key}`;
}

/** News about incidents that already have a card: count updates and ladder (rung) messages. */
const FOLLOW_UPS: ReadonlySet<string> = new Set(['incident_updated', 'rung_fired']);

/**
 * The item a queue delivers next: the oldest, except that follow-ups of incidents (count
 * updates, ladder messages) wait behind anything else queued (issue 13: a new incident's card
 * never waits behind updates of older incidents). An incident's own follow-ups are queued after
 * its card, so they still follow it, and follow-ups keep their order among themselves.
 */
export function pickHead(items: readonly OutboxItem[]): OutboxItem | undefined {
  return items.find((i) => !FOLLOW_UPS.has((i.payload as Notification).kind)) ?? items[0];
}

/** A short "what about" for logs and dead-letter listings. */
export function subjectOf(n: Notification): string | undefined {
  if ('incident' in n) return n.incident.targetValue;
  if ('hunt' in n && n.hunt) return n.hunt.label;
  if ('week' in n) return n.week;
  return undefined;
}
