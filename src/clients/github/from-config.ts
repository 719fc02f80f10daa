import type { Config } from '../../config/load.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { HttpClient } from '../http.js';
import { GithubClient, type EtagStore } from './client.js';

/** The GitHub client for the configured Cisco-Talos/IOCs repository. */
export function githubClientFor(config: Config, deps: { clock: Clock; logger: Logger; etags?: EtagStore; http?: HttpClient }): GithubClient {
  const c = config.talosIocs;
  return new GithubClient({
    repo: { owner: c.owner, repo: c.repo, branch: c.branch },
    apiUrl: c.apiUrl,
    rawUrl: c.rawUrl,
    token: c.token,
    maxWaitMs: c.maxWaitSeconds * 1000,
    maxFileBytes: config.talos.maxFileBytes,
    ...deps,
  });
}
