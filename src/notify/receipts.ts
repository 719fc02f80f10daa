import { readFile, rename, open, type FileHandle } from 'node:fs/promises';

/**
 * Ids of outbox items already delivered, in a small append-only file next to the state
 * file (`<STATE_FILE>.delivered`, one id per line).
 *
 * Why: the outbox removes a delivered item from the state without waiting for the state
 * file's next write (that write can be seconds away on a large state, and the chat rate
 * would follow it). A crash in between used to post the item again after the restart.
 * Appending one line is a single `write()` — once it returned, a SIGKILL cannot undo it —
 * so the window for a repeat shrinks to the moment between Webex's answer and that write.
 */
export class DeliveryReceipts {
  private readonly ids = new Set<string>();
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
    // A torn last line (killed mid-write) is simply not an id of ours; it matches nothing.
    for (const line of text.split('\n')) if (line.trim()) receipts.ids.add(line.trim());
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
    return this.serial(async () => {
      await this.fh.write(`${id}\n`);
    });
  }

  /**
   * Drops ids whose removal from the state is on disk (the caller flushed the store first).
   * Ids recorded meanwhile are kept: the file is rewritten with them, atomically.
   */
  forget(ids: Iterable<string>): Promise<void> {
    for (const id of ids) this.ids.delete(id);
    return this.serial(async () => {
      const tmp = `${this.path}.tmp`;
      const out = await open(tmp, 'w');
      try {
        await out.write(this.ids.size > 0 ? `${[...this.ids].join('\n')}\n` : '');
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

export function receiptsPathFor(stateFile: string): string {
  return `${stateFile}.delivered`;
}
