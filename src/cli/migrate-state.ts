import { access, readFile } from 'node:fs/promises';
import { StoreError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { systemClock } from '../core/clock.js';
import { journalPathFor, SightingJournal, type JournalEntry } from '../store/journal/journal.js';
import { parseState } from '../store/lowdb-store.js';
import { IMPORT_KINDS, importState, type ImportResult } from '../store/postgres/import-state.js';
import { migrate } from '../store/postgres/migrate.js';
import { createPool, describeUrl } from '../store/postgres/pool.js';
import { parseReceipts, receiptsPathFor } from '../notify/receipts.js';

/**
 * `sightline migrate-state <lowdb-file>`: moves an existing lowdb state into PostgreSQL. The
 * file is read through the store's own parser and zod schema (what start-up accepts, this
 * accepts), with its journal (`.journal`: sightings not applied yet, and the ids that keep
 * deduplicating) and its delivery receipts (`.delivered`). The schema migrations are applied
 * first, then everything is imported in one transaction (import-state.ts). Start the bot with the
 * same DATABASE_URL afterwards.
 */
export const MIGRATE_STATE_HELP = `sightline migrate-state <lowdb-file> [--database-url URL]
  Imports a lowdb state file (with its .journal and .delivered beside it) into an empty PostgreSQL
  database: incidents (counts, sightings kept, rungs, XDR ids and waiting changes, links), hunts and
  casebooks, Talos cursors, rooms, module state, the pending outbox and dead letters. Idempotent:
  a second run imports nothing. The URL comes from --database-url or DATABASE_URL; start the bot
  with the same DATABASE_URL afterwards. Stop the bot before, so the file does not change.`;

export interface MigrateStateOptions {
  file: string;
  databaseUrl?: string;
}

export async function runMigrateStateCommand(opts: MigrateStateOptions, deps: { logger: Logger; out: (s: string) => void }): Promise<number> {
  const url = opts.databaseUrl?.trim();
  if (!url) {
    deps.out('migrate-state needs the database: pass --database-url postgres://user:password@host:5432/database or set DATABASE_URL.');
    return 64;
  }
  const where = describeUrl(url);
  const state = parseState(await readStateFile(opts.file), opts.file);
  const journal = await readJournal(journalPathFor(opts.file), deps.logger);
  const { delivered, partsSent } = await readReceipts(receiptsPathFor(opts.file));

  const pool = createPool({ url, applicationName: 'sightline migrate-state', max: 2, statementTimeoutMs: 300_000, logger: deps.logger });
  try {
    await migrate(pool, { logger: deps.logger });
    const result = await importState(pool, { state, journal, delivered: [...delivered], partsSent: [...partsSent], source: opts.file });
    report(result, opts.file, where, deps.out);
    return 0;
  } finally {
    await pool.end().catch(() => undefined);
  }
}

function report(result: ImportResult, file: string, where: string, out: (s: string) => void): void {
  if (result.total === 0) {
    out(`Nothing to import: everything in ${file} is in PostgreSQL at ${where} already (imported before).`);
    return;
  }
  out(`Imported ${file} into PostgreSQL at ${where}:`);
  const width = Math.max(...IMPORT_KINDS.map((k) => k.length));
  for (const kind of IMPORT_KINDS) out(`  ${kind.padEnd(width)}  ${result.counts[kind]}`);
  if (result.controlKept) {
    out(`The hunts, Talos cursors, rooms, module state and investigate desk of ${file} were not imported: the database keeps its own already (the control document is only filled while empty).`);
  }
  if (result.danglingLinks > 0) {
    out(`${result.danglingLinks} previous-incident link(s) point to incidents the file had already pruned; those incidents show no previous one.`);
  }
}

async function readStateFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a folder' : `cannot be read (${(err as Error).message})`;
    throw new StoreError('store_unwritable', `The state file ${path} ${why}; give the path of the lowdb file the bot used (STATE_FILE).`, { cause: err });
  }
}

/** Every entry of the journal (empty when there is none). Opening it drops a torn last line, as start-up does. */
async function readJournal(path: string, logger: Logger): Promise<JournalEntry[]> {
  if (!(await access(path).then(() => true, () => false))) return [];
  let journal: SightingJournal;
  try {
    journal = await SightingJournal.open({ path, clock: systemClock, logger, dedupeWindowSeconds: 86_400 });
  } catch (err) {
    throw new StoreError('store_unwritable', `The sightings journal ${path} cannot be read (${(err as Error).message}); check its permissions.`, { cause: err });
  }
  try {
    const entries: JournalEntry[] = [];
    for await (const e of journal.replay(0)) entries.push(e);
    return entries;
  } finally {
    await journal.close();
  }
}

async function readReceipts(path: string): Promise<ReturnType<typeof parseReceipts>> {
  try {
    return parseReceipts(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return parseReceipts('');
    throw new StoreError('store_unwritable', `The delivery receipts ${path} cannot be read (${(err as Error).message}); check its permissions.`, { cause: err });
  }
}
