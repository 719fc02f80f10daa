/**
 * The shape of Sightline's state file. Each section belongs to one part of the
 * bot; the store itself only knows how to keep the whole object safe on disk.
 */
export interface TalosState {
  /** Legacy S3 layout: the last `{urlId}` that served a roundup. Operators may set it back to re-run. */
  cursorUrlId?: number;
  /** ISO week key (e.g. "2021-07-23", the Friday) of the last roundup hunted to completion. */
  lastHuntedWeek?: string;
  /** A weekly hunt waiting for Talos to publish: survives restarts. */
  pendingRetry?: PendingRetry;
  /** When the weekly schedule was first armed: a scheduled time before it is not a "missed" run. */
  scheduleArmedAt?: string;
  /** The Cisco-Talos/IOCs source: its cursor and what each post has already been hunted for. */
  iocsRepo?: IocsRepoState;
}

export interface CommitCursor {
  sha: string;
  date: string;
}

/** One post hunted before: its name (kept when only its .txt changes later) and the observables hunted. */
export interface HuntedPost {
  name: string;
  link?: string;
  /** `type:value` of every observable already hunted. */
  observables: string[];
  huntedAt: string;
}

export interface IocsRepoState {
  /** The last commit whose files were hunted to completion. */
  lastCommit?: CommitCursor;
  /** By post key (lower-case `YYYY/MM/slug`). Bounded to the most recent posts. */
  posts?: Record<string, HuntedPost>;
  /** A batch chosen and not finished yet: a restart resumes it with the same hunt record. */
  pending?: { huntId: string; posts: Array<{ key: string; paths: string[] }>; toCommit: CommitCursor };
  /** ETags of API answers worth asking again conditionally (the commit list). */
  etags?: Record<string, { etag: string; body: unknown }>;
  lastCheckedAt?: string;
}

export interface PendingRetry {
  week: string;
  attempt: number;
  nextAttemptAt: string;
  lastUri?: string;
  lastError?: string;
  dedupeKey?: string;
}

export interface HuntRecord {
  id: string;
  trigger: 'schedule' | 'command' | 'cli' | 'missed';
  requestedBy?: string;
  week?: string;
  uri?: string;
  startedAt: string;
  finishedAt?: string;
  status: 'running' | 'finished' | 'failed' | 'not_published';
  /** Threat names already completed, so a hunt killed mid-run resumes without repeating them. */
  threatsDone: string[];
  /** Casebook id per threat, so a resumed hunt never creates a second casebook. */
  casebooks: Record<string, string>;
  summary?: string;
  error?: string;
  /** Outcomes of the threats done so far (targets trimmed), for the summary of a resumed hunt. */
  outcomes?: unknown[];
  dryRun?: boolean;
  /** Which Talos source this hunt read (absent: the roundup). */
  source?: 'roundup' | 'iocs-repo';
}

export interface OutboxItem {
  id: string;
  /** Which channel delivers it: "webex", "email", "xdr". */
  channel: string;
  /** Key that orders deliveries within a channel (e.g. a room); FIFO per key. */
  key: string;
  payload: unknown;
  createdAt: string;
  attempts: number;
  nextAttemptAt: string;
  lastError?: string;
  dedupeKey?: string;
}

/** An outbox item a channel refused for good, kept (bounded) so admins can see what was not delivered and why. */
export interface DeadLetter {
  id: string;
  channel: string;
  key: string;
  kind: string;
  /** What it was about (an incident's target, a hunt's label), for listings. */
  subject?: string;
  reason: string;
  createdAt: string;
  failedAt: string;
  attempts: number;
  payload: unknown;
}

export interface State {
  version: 1;
  talos: TalosState;
  hunts: HuntRecord[];
  /** Webex room title → room id, so rooms are looked up once. */
  rooms: Record<string, string>;
  outbox: OutboxItem[];
  /** Idempotency keys of notifications already queued, so a resumed hunt never posts a card twice. Bounded. */
  outboxKeys?: string[];
  /** Outbox items refused for good, newest last; bounded (see notify/outbox.ts). */
  outboxDead?: DeadLetter[];
  /** Sections owned by other parts of the bot (correlation, modules). Typed where they are used. */
  correlation?: unknown;
  modules?: unknown;
  /** Response actions offered by `investigate` cards, pending confirmations and the record of every action run. */
  investigate?: unknown;
}

export function emptyState(): State {
  return { version: 1, talos: {}, hunts: [], rooms: {}, outbox: [] };
}

/** Hunts kept in history; older ones are dropped so the file stays small. */
export const MAX_HUNT_HISTORY = 100;
