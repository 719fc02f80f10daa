import { readFile, rename, open, type FileHandle } from 'node:fs/promises';

/**
 * Ids of outbox items already delivered, in a small append-only file next to the state
 * file (`<STATE_FILE>.delivered`, one id per line), and how far items sent as several
 * messages got (`<id>#<messages posted>`, one line per message but the last).
 *
 * Why: the outbox removes a delivered item from the state without waiting for the state
 * file's next write (that write can be seconds away on a large state, and the chat rate
 * would follow it). A crash in between used to post the item again after the restart.
 * Appending one line is a single `write()` — once it returned, a SIGKILL cannot undo it —
 * so the window for a repeat shrinks to the moment between Webex's answer and that write.
 */
export class DeliveryReceipts {
  private readonly ids = new Set<string>();
  /** Items partly delivered: messages posted so far (a card per target: a retry posts only the rest). */
  private readonly parts = new Map<string, number>();
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private fh: FileHandle,
  ) {}

  static async open(path: string): Promise<DeliveryReceipts> {
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const receipts = new DeliveryReceipts(path, await open(path, 'a'));
    const { delivered, partsSent } = parseReceipts(text);
    for (const id of delivered) receipts.ids.add(id);
    for (const [id, sent] of partsSent) receipts.parts.set(id, sent);
    return receipts;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  get size(): number {
    return this.ids.size;
  }

  /** A snapshot of the ids recorded so far. */
  list(): string[] {
    return [...this.ids];
  }

  record(id: string): Promise<void> {
    this.ids.add(id);
    this.parts.delete(id);
    return this.serial(async () => {
      await this.fh.write(`${id}\n`);
    });
  }

  /** Messages of item `id` posted so far (0: none, or not sent as several). */
  partsSent(id: string): number {
    return this.parts.get(id) ?? 0;
  }

  /** `sent` messages of item `id` are out: one line, so a crash after it cannot post them again. */
  recordParts(id: string, sent: number): Promise<void> {
    this.parts.set(id, sent);
    return this.serial(async () => {
      await this.fh.write(`${id}#${sent}\n`);
    });
  }

  /** Start-up: forgets the progress of items no longer queued (the file drops it at its next rewrite). */
  keepPartsOf(queued: ReadonlySet<string>): void {
    for (const id of this.parts.keys()) if (!queued.has(id)) this.parts.delete(id);
  }

  /** Item `id` left the outbox undelivered (a dead letter): its progress is of no use any more. */
  dropParts(id: string): void {
    this.parts.delete(id);
  }

  /**
   * Drops ids whose removal from the state is on disk (the caller flushed the store first).
   * Ids recorded meanwhile, and the progress of items not delivered yet, are kept: the file is
   * rewritten with them, atomically.
   */
  forget(ids: Iterable<string>): Promise<void> {
    for (const id of ids) this.ids.delete(id);
    return this.serial(async () => {
      const tmp = `${this.path}.tmp`;
      const out = await open(tmp, 'w');
      try {
        const lines = [...this.ids, ...[...this.parts].map(([id, sent]) => `${id}#${sent}`)];
        await out.write(lines.length > 0 ? `${lines.join('\n')}\n` : '');
      } finally {
        await out.close();
      }
      await this.fh.close();
      await rename(tmp, this.path);
      this.fh = await open(this.path, 'a');
    });
  }

  close(): Promise<void> {
    return this.serial(() => this.fh.close());
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work, work);
    this.chain = next.catch(() => undefined);
    return next;
  }
}

/** `<item id>#<messages posted>`: item ids are UUIDs, which never hold a '#'. */
const PART_LINE = /^([^#\s]+)#(\d+)$/;

/**
 * A receipts file's text: the items delivered, and how far the others sent as several messages got
 * (the most recorded; none for a delivered item). A torn last line (killed mid-write) is simply not
 * an id of ours, or a lower count than the one before it: it matches nothing or changes nothing.
 */
export function parseReceipts(text: string): { delivered: Set<string>; partsSent: Map<string, number> } {
  const delivered = new Set<string>();
  const partsSent = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const part = PART_LINE.exec(line);
    if (part) partsSent.set(part[1]!, Math.max(partsSent.get(part[1]!) ?? 0, Number(part[2])));
    else if (line) delivered.add(line);
  }
  for (const id of delivered) partsSent.delete(id);
  return { delivered, partsSent };
}

export function receiptsPathFor(stateFile: string): string {
  return `${stateFile}.delivered`;
}
