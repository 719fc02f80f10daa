import { moduleSighting, postSightings } from './support.js';

/** What the crash suites know of one sender id. */
export interface LedgerEntry {
  host: string;
  acked: boolean;
  /** Requests that carried it and got no answer (killed mid-request). */
  unanswered: number;
}

export type SendOutcome = 'acked' | 'refused' | 'unanswered';

/**
 * The crash suites' senders: every sighting has its own id in the ledger; a batch is acknowledged
 * as a whole or not at all. A batch nobody was listening for (connection refused) is certainly not
 * received: its ids go out first in the next batch. Of the ids of a batch that got no answer (the
 * process was killed mid-request), half are resent later, as a sender would, and half never are:
 * the checks must hold for both.
 */
export class SightingLedger {
  readonly entries = new Map<string, LedgerEntry>();
  /** Answers other than 202, 503 or none, with a few samples. */
  unexpected = 0;
  readonly unexpectedSamples: string[] = [];
  private readonly retry: string[] = [];
  private next = 0;

  constructor(private readonly opts: { idPrefix: string; targets: number; rand: () => number }) {}

  /** Sends one batch of 1–4 sightings (resent ids first) from client `c` to `url`. */
  async send(c: number, url: string): Promise<SendOutcome> {
    const { rand } = this.opts;
    const size = 1 + Math.floor(rand() * 4);
    const ids: string[] = [];
    while (ids.length < size && this.retry.length > 0) ids.push(this.retry.shift()!);
    while (ids.length < size) {
      const id = `${this.opts.idPrefix}-${c}-${this.next++}`;
      this.entries.set(id, { host: `host-${Math.floor(rand() * this.opts.targets)}.corp.example`, acked: false, unanswered: 0 });
      ids.push(id);
    }
    const body = JSON.stringify(ids.map((id) => moduleSighting(id, this.entries.get(id)!.host, `evil-${id}.example`)));
    const res = await postSightings(url, body, { timeoutMs: 5000 });
    if (res.status === 202) {
      for (const id of ids) this.entries.get(id)!.acked = true;
      return 'acked';
    }
    if (res.status !== 0 && res.status !== 503) {
      this.unexpected++;
      if (this.unexpectedSamples.length < 3) this.unexpectedSamples.push(`${res.status} ${res.body.slice(0, 200)}`);
    }
    if (/ECONNREFUSED/.test(res.error ?? '')) {
      this.retry.unshift(...ids);
      return 'refused';
    }
    for (const id of ids) {
      this.entries.get(id)!.unanswered++;
      if (rand() < 0.5) this.retry.push(id);
    }
    return 'unanswered';
  }
}
