import type { Config } from '../../config/load.js';
import { NotFoundError, UpstreamError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { parseRoundup } from '../../domain/talos/parse.js';
import { candidateDates, expandTemplate, usesUrlId } from '../../domain/talos/week.js';
import type { Roundup } from '../../domain/types.js';
import { HttpClient } from '../http.js';
import { checkRoundupUri } from './allowlist.js';

export type WeekResult =
  | { status: 'found'; uri: string; text: string; urlId?: number }
  | { status: 'not_published'; tried: string[] };

export interface TalosFetcherOptions {
  talos: Config['talos'];
  logger: Logger;
  http?: HttpClient;
}

const REDIRECTS = [301, 302, 303, 307, 308];
const MAX_REDIRECT_HOPS = 3;
/** "Not there (yet)": a normal answer for a week without a roundup, not a failure. */
const ABSENT = [404, 410];
/**
 * S3 answers 403 AccessDenied, not 404, for a missing key when the bucket does not
 * allow listing, so in the S3 {urlId} layout 403 also means "no file at this id".
 */
const ABSENT_S3 = [...ABSENT, 403];

/**
 * Downloads Talos roundups. Every address, including each redirect hop, goes
 * through the allow-list; redirects are followed by hand because undici does
 * not follow them and an automatic follow would skip that check.
 */
export class TalosFetcher {
  private readonly talos: Config['talos'];
  private readonly logger: Logger;
  private readonly http: HttpClient;

  constructor(opts: TalosFetcherOptions) {
    this.talos = opts.talos;
    this.logger = opts.logger.child({ component: 'talos-fetcher' });
    this.http = opts.http ?? new HttpClient({ service: 'Talos', logger: this.logger });
  }

  /** Fetches and parses one roundup file; a 404 becomes NotFoundError, other failures UpstreamError. */
  async fetchUri(uri: string): Promise<{ uri: string; roundup: Roundup }> {
    const res = await this.get(uri, ABSENT);
    if (ABSENT.includes(res.status)) {
      throw new NotFoundError(`There is no Talos roundup at ${res.uri} (HTTP ${res.status}); check the address or the week.`);
    }
    const roundup = parseRoundup(res.text, res.uri, {
      includeSampleHashes: this.talos.includeSampleHashes,
      cidrExpandMax: this.talos.cidrExpandMax,
    });
    return { uri: res.uri, roundup };
  }

  /** Fetches one file's text through the allow-list (a Cisco-Talos/IOCs file); a 404 becomes NotFoundError. */
  async fetchText(uri: string): Promise<{ uri: string; text: string }> {
    const res = await this.get(uri, ABSENT);
    if (ABSENT.includes(res.status)) throw new NotFoundError(`There is no file at ${res.uri} (HTTP ${res.status}); check the address.`);
    return { uri: res.uri, text: res.text };
  }

  /**
   * Looks for the roundup of the week of `friday` (YYYY-MM-DD) on the candidate
   * dates Friday, Thursday, Saturday. With a `{urlId}` template (the 2021 S3
   * layout) it probes ids cursor+1 … cursor+TALOS_URL_ID_PROBE_MAX for each date.
   */
  async findWeek(friday: string, cursorUrlId?: number): Promise<WeekResult> {
    const template = this.talos.urlTemplate;
    const tried: string[] = [];
    for (const date of candidateDates(friday)) {
      if (!usesUrlId(template)) {
        const found = await this.probe(expandTemplate(template, { date }), ABSENT, tried);
        if (found) return { status: 'found', ...found };
        continue;
      }
      const cursor = cursorUrlId ?? this.talos.urlIdStart;
      for (let step = 1; step <= this.talos.urlIdProbeMax; step++) {
        const urlId = cursor + step;
        const found = await this.probe(expandTemplate(template, { date, urlId }), ABSENT_S3, tried);
        if (found) return { status: 'found', ...found, urlId };
      }
    }
    this.logger.info({ friday, tried: tried.length }, 'Talos roundup not published yet');
    return { status: 'not_published', tried };
  }

  private async probe(uri: string, absent: number[], tried: string[]): Promise<{ uri: string; text: string } | undefined> {
    tried.push(uri);
    const res = await this.get(uri, absent);
    if (absent.includes(res.status)) return undefined;
    this.logger.info({ uri: res.uri, bytes: res.text.length }, 'Talos roundup found');
    return { uri: res.uri, text: res.text };
  }

  /** GET with manual, allow-listed redirects; returns the final address, status and body. */
  private async get(uri: string, absent: number[]): Promise<{ uri: string; status: number; text: string }> {
    let current = checkRoundupUri(uri, this.talos.allowedHosts);
    for (let hop = 0; ; hop++) {
      const res = await this.http
        .send({
          method: 'GET',
          url: current.href,
          headers: { accept: 'application/json, text/plain;q=0.9, */*;q=0.1' },
          acceptStatus: [...REDIRECTS, ...absent],
          maxBodyBytes: this.talos.maxFileBytes,
        })
        .catch((err: unknown) => {
          throw tooLargeAsTalosError(err, current.href, this.talos.maxFileBytes);
        });
      if (!REDIRECTS.includes(res.status)) return { uri: current.href, status: res.status, text: res.text };
      const location = res.headers.location;
      if (hop >= MAX_REDIRECT_HOPS || !location) {
        const why = location ? `redirected more than ${MAX_REDIRECT_HOPS} times` : 'sent a redirect without a Location';
        throw new UpstreamError('Talos', `The Talos roundup address ${current.href} ${why}; check TALOS_URL_TEMPLATE or the URL given.`, {
          status: res.status,
        });
      }
      // Relative Locations resolve against the current hop; the target is re-checked like a new request.
      current = checkRoundupUri(resolveLocation(location, current), this.talos.allowedHosts);
      this.logger.debug({ to: current.href, hop: hop + 1 }, 'following Talos redirect');
    }
  }
}

function resolveLocation(location: string, base: URL): string {
  try {
    return new URL(location, base).href;
  } catch {
    return location; // checkRoundupUri refuses it with a sentence naming the bad address
  }
}

/** HttpClient reports an oversized body generically; say which file and which setting. */
function tooLargeAsTalosError(err: unknown, uri: string, limit: number): unknown {
  if (!(err instanceof UpstreamError) || err.status !== 413 || err.service !== 'http') return err;
  return new UpstreamError('Talos', `The file at ${uri} is larger than TALOS_MAX_FILE_BYTES (${limit} bytes) and was not read; raise the limit if the file is genuine.`, {
    status: 413,
    cause: err,
  });
}
