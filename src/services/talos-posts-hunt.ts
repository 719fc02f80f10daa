import { randomUUID } from 'node:crypto';
import type { EtagEntry, EtagStore, GithubClient } from '../clients/github/client.js';
import { asSightlineError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { runHunt } from '../domain/hunt/run-hunt.js';
import { observableKey } from '../domain/talos/post-plan.js';
import type { HuntRef } from '../notify/notification.js';
import { MAX_HUNT_HISTORY, type HuntedPost, type HuntRecord, type IocsRepoState } from '../store/state.js';
import type { Store } from '../store/store.js';
import { StoreHuntProgress } from './hunt-progress.js';
import { TalosPostsSource } from './talos-posts-source.js';
import type { HuntDeps } from './hunt-deps.js';

/**
 * The weekly hunt of the Cisco-Talos/IOCs source: every post added (or
 * changed) since the cursor, all in one hunt so they share the XDR batches,
 * through the same runHunt path as roundup threats.
 *
 * Crash safety: the chosen batch is stored (`pending`) with its hunt record
 * before any work, and the cursor moves only when the hunt finished. A restart
 * resumes the same record, so threats done are skipped and casebooks reused;
 * a spent GitHub budget only delays (the client waits for the reset) or, past
 * GITHUB_MAX_WAIT_SECONDS, leaves the cursor where it was for the next run.
 */
export interface TalosPostsHuntDeps extends HuntDeps {
  github: GithubClient;
  signal?: AbortSignal;
}

export type PostsHuntResult =
  | { status: 'nothing_new'; checkedSince?: string }
  | { status: 'hunted'; huntId: string; posts: string[] }
  | { status: 'failed'; error: string };

/** Posts remembered for "hunt again only for what it adds"; older ones are dropped to bound the state. */
const MAX_POSTS_REMEMBERED = 500;

export class TalosPostsHunt {
  private readonly source: TalosPostsSource;
  private readonly log: Logger;

  constructor(private readonly d: TalosPostsHuntDeps) {
    this.log = d.logger.child({ component: 'talos-posts' });
    this.source = new TalosPostsSource({
      github: d.github,
      clock: d.clock,
      logger: this.log,
      firstLookbackDays: d.config.talosIocs.firstLookbackDays,
      allowedHosts: d.config.talos.allowedHosts,
      rawUrl: d.config.talosIocs.rawUrl,
    });
  }

  /** The cursor for `hunt status`. */
  cursor(): IocsRepoState['lastCommit'] & { pending?: number; checkedAt?: string } {
    const s = this.state();
    return { ...(s.lastCommit ?? { sha: '', date: '' }), pending: s.pending?.posts.length, checkedAt: s.lastCheckedAt };
  }

  async run(trigger: HuntRecord['trigger'], requestedBy?: string): Promise<PostsHuntResult> {
    try {
      return await this.runOrThrow(trigger, requestedBy);
    } catch (err) {
      if (this.d.signal?.aborted) throw err;
      const e = asSightlineError(err);
      this.log.error({ err }, 'Talos posts hunt failed; the cursor stays, the next run takes it up');
      await this.d.notifier.notify({ kind: 'hunt_failed', week: `Talos posts (${this.repoName()})`, error: e.userMessage }).catch(() => undefined);
      return { status: 'failed', error: e.userMessage };
    }
  }

  private async runOrThrow(trigger: HuntRecord['trigger'], requestedBy?: string): Promise<PostsHuntResult> {
    let pending = this.state().pending;
    if (!pending) {
      const cursor = this.state().lastCommit;
      const found = await this.source.whatIsNew(cursor);
      const now = this.d.clock.now().toISOString();
      if (found.posts.length === 0) {
        await this.d.store.update((s) => {
          const st = (s.talos.iocsRepo ??= {});
          if (found.toCommit) st.lastCommit = found.toCommit;
          st.lastCheckedAt = now;
        });
        return { status: 'nothing_new', checkedSince: cursor?.date };
      }
      const record = this.newRecord(trigger, requestedBy);
      pending = { huntId: record.id, posts: found.posts, toCommit: found.toCommit! };
      const batch = pending;
      await this.d.store.update((s) => {
        s.hunts.push(record);
        if (s.hunts.length > MAX_HUNT_HISTORY) s.hunts.splice(0, s.hunts.length - MAX_HUNT_HISTORY);
        (s.talos.iocsRepo ??= {}).pending = batch;
      });
    } else {
      this.log.warn({ hunt: pending.huntId, posts: pending.posts.length }, 'resuming a Talos posts hunt interrupted by a restart');
      if (!this.d.store.get().hunts.some((h) => h.id === pending!.huntId)) {
        const record = { ...this.newRecord(trigger, requestedBy), id: pending.huntId };
        await this.d.store.update((s) => void s.hunts.push(record));
      }
    }

    const batch = pending;
    const threats = await this.source.threats(batch.posts, this.state().posts ?? {});
    const hunt: HuntRef = { id: batch.huntId, label: `Talos posts to ${batch.toCommit.date.slice(0, 10)}`, uri: `https://github.com/${this.repoName()}` };
    if (threats.length === 0) {
      await this.finish(batch, [], 'nothing new: the changed files add no IOC not hunted before');
      return { status: 'nothing_new', checkedSince: batch.toCommit.date };
    }
    const outcomes = await runHunt({ source: hunt.uri, threats: threats.map((t) => t.threat) }, hunt, {
      xdr: this.d.xdr,
      notifier: this.d.notifier,
      progress: new StoreHuntProgress(this.d.store, batch.huntId),
      clock: this.d.clock,
      logger: this.log,
      excludedModules: this.d.config.xdr.excludedModules,
      cleanRule: this.d.config.xdr.cleanRule,
      casebookUrl: this.d.casebookUrl,
      signal: this.d.signal,
    });
    const targets = outcomes.reduce((n, o) => n + o.targets.length, 0);
    await this.finish(batch, threats, `${threats.length} post(s), ${targets} target(s)`);
    return { status: 'hunted', huntId: batch.huntId, posts: threats.map((t) => t.threat.name) };
  }

  /** Records what each post was hunted for, moves the cursor and closes the record, in one write. */
  private async finish(batch: NonNullable<IocsRepoState['pending']>, threats: Awaited<ReturnType<TalosPostsSource['threats']>>, summary: string): Promise<void> {
    const now = this.d.clock.now().toISOString();
    await this.d.store.update((s) => {
      const st = (s.talos.iocsRepo ??= {});
      const posts = (st.posts ??= {});
      for (const { key, threat } of threats) {
        const earlier: HuntedPost | undefined = posts[key];
        posts[key] = {
          name: earlier?.name ?? threat.name,
          link: earlier?.link ?? threat.link,
          observables: [...new Set([...(earlier?.observables ?? []), ...threat.observables.map(observableKey)])],
          huntedAt: now,
        };
      }
      const keys = Object.keys(posts);
      if (keys.length > MAX_POSTS_REMEMBERED) {
        for (const key of keys.sort((a, b) => posts[a]!.huntedAt.localeCompare(posts[b]!.huntedAt)).slice(0, keys.length - MAX_POSTS_REMEMBERED)) delete posts[key];
      }
      st.lastCommit = batch.toCommit;
      st.lastCheckedAt = now;
      delete st.pending;
      const h = s.hunts.find((x) => x.id === batch.huntId);
      if (h) {
        h.status = 'finished';
        h.finishedAt = now;
        h.summary = summary;
        delete h.outcomes;
      }
    });
  }

  private newRecord(trigger: HuntRecord['trigger'], requestedBy?: string): HuntRecord {
    return {
      id: `hunt-${this.d.clock.now().toISOString().replace(/[:.]/g, '')}-${randomUUID().slice(0, 8)}`,
      trigger,
      requestedBy,
      source: 'iocs-repo',
      uri: `https://github.com/${this.repoName()}`,
      startedAt: this.d.clock.now().toISOString(),
      status: 'running',
      threatsDone: [],
      casebooks: {},
    };
  }

  private state(): Readonly<IocsRepoState> {
    return this.d.store.get().talos.iocsRepo ?? {};
  }

  private repoName(): string {
    return `${this.d.config.talosIocs.owner}/${this.d.config.talosIocs.repo}`;
  }
}

/**
 * Keeps the ETag of the commit list in the state, so next week's "anything new
 * since the cursor?" is a free 304 even after a restart. Other answers (commit
 * details) never change and are asked once, so they stay in memory only.
 */
export function stateEtagStore(store: Store): EtagStore {
  const memory = new Map<string, EtagEntry>();
  return {
    get: (url) => store.get().talos.iocsRepo?.etags?.[url] ?? memory.get(url),
    set: (url, entry) => {
      if (!url.includes('/commits?')) {
        memory.set(url, entry);
        return;
      }
      // Only the latest list is worth keeping: the cursor moves, so older queries are never asked again.
      void store.update((s) => {
        (s.talos.iocsRepo ??= {}).etags = { [url]: entry };
      }, { durable: false });
    },
  };
}
