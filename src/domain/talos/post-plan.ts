import type { Threat } from '../types.js';
import { groupPostFiles } from './post.js';

/**
 * What to hunt from a run of commits, as pure data: the posts whose IOC files
 * were added or changed, each with the files to read, and (for a post seen
 * before) only what it adds.
 */
export interface PostPlan {
  /** Lower-case `YYYY/MM/slug`: the same post whatever the case of its two files. */
  key: string;
  paths: string[];
}

export interface CommitChange {
  sha: string;
  files: Array<{ path: string; status: string }>;
}

/** Posts touched by these commits (oldest first); removed files and stray files are left out. */
export function planPosts(commits: CommitChange[]): PostPlan[] {
  const paths = new Set<string>();
  for (const c of commits) {
    for (const f of c.files) {
      if (f.status === 'removed') paths.delete(f.path);
      else paths.add(f.path);
    }
  }
  return groupPostFiles([...paths]).map((g) => ({ key: g.key, paths: g.paths }));
}

export function observableKey(o: { type: string; value: string }): string {
  return `${o.type}:${o.value}`;
}

/**
 * A post hunted before comes back only with observables not hunted yet, under
 * its earlier name and link (a later `.txt` has no report to name it).
 * Undefined when it adds nothing.
 */
export function onlyWhatIsNew(threat: Threat, earlier: { name: string; link?: string; observables: string[] } | undefined): Threat | undefined {
  if (!earlier) return threat.observables.length > 0 || threat.rejected.length > 0 ? threat : undefined;
  const seen = new Set(earlier.observables);
  const observables = threat.observables.filter((o) => !seen.has(observableKey(o)));
  if (observables.length === 0) return undefined;
  return {
    ...threat,
    name: earlier.name,
    link: threat.link ?? earlier.link,
    description: `${threat.description}; updated: ${observables.length} IOC(s) not hunted before`,
    observables,
    reportsCount: observables.length,
  };
}
