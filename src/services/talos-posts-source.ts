import type { GithubClient } from '../clients/github/client.js';
import { checkRoundupUri } from '../clients/talos/allowlist.js';
import type { Clock } from '../core/clock.js';
import { NotFoundError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { buildPostThreat, parseIocFile } from '../domain/talos/post.js';
import { onlyWhatIsNew, planPosts, type PostPlan } from '../domain/talos/post-plan.js';
import type { Threat } from '../domain/types.js';
import type { CommitCursor, HuntedPost } from '../store/state.js';

/**
 * The Cisco-Talos/IOCs repository as a hunt source: which posts are new since
 * the cursor (one commit list, one request per new commit) and their threats
 * (one raw file each). The first run of a deployment looks back
 * TALOS_IOCS_FIRST_LOOKBACK_DAYS days. Raw files go through the allow-list.
 */
export interface TalosPostsSourceOptions {
  github: GithubClient;
  clock: Clock;
  logger: Logger;
  firstLookbackDays: number;
  allowedHosts: string[];
  rawUrl: string;
}

export interface WhatIsNew {
  posts: PostPlan[];
  /** Where the cursor moves once these posts are hunted; undefined when there was no commit at all. */
  toCommit?: CommitCursor;
}

const DAY_MS = 86_400_000;

export class TalosPostsSource {
  constructor(private readonly o: TalosPostsSourceOptions) {}

  async whatIsNew(cursor: CommitCursor | undefined): Promise<WhatIsNew> {
    const since = cursor?.date ?? new Date(this.o.clock.now().getTime() - this.o.firstLookbackDays * DAY_MS).toISOString();
    const listed = await this.o.github.commitsSince(since);
    // `since` is inclusive: drop the cursor commit itself and anything listed before it.
    const at = cursor ? listed.findIndex((c) => c.sha === cursor.sha) : -1;
    const commits = at === -1 ? listed : listed.slice(at + 1);
    if (commits.length === 0) return { posts: [], toCommit: cursor };
    const changes = [];
    for (const c of commits) changes.push({ sha: c.sha, files: await this.o.github.commitFiles(c.sha) });
    const last = commits.at(-1)!;
    this.o.logger.info({ commits: commits.length, since }, 'Cisco-Talos/IOCs commits since the cursor');
    return { posts: planPosts(changes), toCommit: { sha: last.sha, date: last.date } };
  }

  /** Reads and parses each post; a post seen before keeps only what it adds. Files gone since are skipped. */
  async threats(posts: PostPlan[], hunted: Record<string, HuntedPost>): Promise<Array<{ key: string; threat: Threat }>> {
    const out: Array<{ key: string; threat: Threat }> = [];
    for (const post of posts) {
      const files = [];
      for (const path of post.paths) {
        checkRoundupUri(`${this.o.rawUrl}/${path.split('/').map(encodeURIComponent).join('/')}`, this.o.allowedHosts);
        try {
          files.push({ path, result: parseIocFile({ path, text: await this.o.github.raw(path) }) });
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err;
          this.o.logger.warn({ path }, 'IOC file removed since its commit; skipped');
        }
      }
      if (files.length === 0) continue;
      const threat = onlyWhatIsNew(buildPostThreat(files), hunted[post.key]);
      if (threat) out.push({ key: post.key, threat });
    }
    return disambiguate(out);
  }
}

/** Threat names key a hunt's progress and casebooks: two posts with one title get the file name added. */
function disambiguate(list: Array<{ key: string; threat: Threat }>): Array<{ key: string; threat: Threat }> {
  const seen = new Set<string>();
  return list.map((item) => {
    if (!seen.has(item.threat.name)) {
      seen.add(item.threat.name);
      return item;
    }
    const name = `${item.threat.name} (${item.key.slice(item.key.lastIndexOf('/') + 1)})`;
    seen.add(name);
    return { key: item.key, threat: { ...item.threat, name } };
  });
}
