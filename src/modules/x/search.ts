import { z } from 'zod';
import { HttpClient, parseRetryAfter } from '../../clients/http.js';
import { asSightlineError, UpstreamError } from '../../core/errors.js';
import { PollingModule } from '../periodic.js';
import { investigateModuleText, type InvestigateStats, type ModuleDeps } from '../pipeline.js';
import { modulesStateOf, readModulesState } from '../state.js';

/**
 * The X (Twitter) sighting module of seed A (seeds.md §1.9): recent-search for a
 * query (default `#opendir`), investigate the tweets, hand sightings to the
 * intake. Unlike the seed it decides "nothing new" from `meta.result_count`
 * rather than a pretty-printed body, moves `since_id` forward only after the
 * batch was accepted (a crash re-reads the batch, the intake dedupes), and
 * waits out a 429 until `x-rate-limit-reset` instead of failing every hour.
 */
export interface XModuleOptions extends ModuleDeps {
  x: { bearerToken?: string; apiBase: string; query: string };
  http?: HttpClient;
  /** Pages followed per poll when more than 100 tweets are new. */
  maxPages?: number;
}

export interface XPollReport {
  status: 'disabled' | 'no-tweets' | 'investigated' | 'rate-limited' | 'failed';
  tweets: number;
  accepted: number;
  duplicates: number;
  sinceId?: string;
  stats?: InvestigateStats;
  error?: string;
}

const searchResponseSchema = z.looseObject({
  data: z.array(z.looseObject({ id: z.string().regex(/^\d+$/), text: z.string() })).optional(),
  meta: z.looseObject({
    result_count: z.number().int().min(0),
    newest_id: z.string().regex(/^\d+$/).optional(),
    oldest_id: z.string().optional(),
    next_token: z.string().optional(),
  }),
});

const TOKEN_HINT = 'X refused the bearer token; check X_BEARER_TOKEN.';

export class XModule extends PollingModule<XPollReport> {
  private readonly http: HttpClient;

  constructor(private readonly opts: XModuleOptions) {
    super(opts.logger.child({ component: 'x' }));
    this.http =
      opts.http ??
      new HttpClient({
        service: 'X',
        logger: this.logger,
        describeError: (status) => (status === 401 || status === 403 ? TOKEN_HINT : undefined),
      });
  }

  /** Off unless a bearer token is configured. */
  get enabled(): boolean {
    return Boolean(this.opts.x.bearerToken);
  }

  async pollOnce(): Promise<XPollReport> {
    const report: XPollReport = { status: 'disabled', tweets: 0, accepted: 0, duplicates: 0 };
    if (!this.enabled) return report;
    const saved = readModulesState(this.opts.store.get()).x;
    if (saved.pausedUntil && Date.parse(saved.pausedUntil) > this.opts.clock.now().getTime()) return { ...report, status: 'rate-limited' };
    // A since_id belongs to its query: a new query starts from the most recent page.
    const sinceId = saved.query === this.opts.x.query ? saved.sinceId : undefined;
    try {
      const { tweets, newestId } = await this.search(sinceId);
      report.tweets = tweets.length;
      report.sinceId = sinceId;
      if (tweets.length === 0 || !newestId) return { ...report, status: 'no-tweets' };
      const found = await investigateModuleText(this.opts, tweets.map((t) => withoutShortLinks(t.text)).join('\n\n'), `x:${this.opts.x.query}`);
      const outcome = found.sightings.length > 0 ? await this.opts.intake.accept(found.sightings) : { accepted: 0, duplicates: 0 };
      await this.save({ sinceId: newestId, query: this.opts.x.query, pausedUntil: undefined });
      this.logger.info({ tweets: tweets.length, accepted: outcome.accepted, sinceId: newestId }, 'X search investigated');
      return { ...report, ...outcome, status: 'investigated', sinceId: newestId, stats: found.stats };
    } catch (err) {
      const e = asSightlineError(err);
      if (e instanceof UpstreamError && e.status === 429) {
        const waitMs = e.retryAfterMs ?? 15 * 60_000;
        await this.save({ ...saved, pausedUntil: new Date(this.opts.clock.now().getTime() + waitMs).toISOString() });
        this.logger.warn({ waitMs }, 'X rate limit reached; polls paused until it resets');
        return { ...report, status: 'rate-limited', error: e.userMessage };
      }
      this.logger.warn({ err: e }, 'X search failed');
      return { ...report, status: 'failed', error: e.userMessage };
    }
  }

  /** All tweets newer than `sinceId` (up to maxPages × 100), oldest first, and the newest id seen. */
  private async search(sinceId: string | undefined): Promise<{ tweets: { id: string; text: string }[]; newestId?: string }> {
    const tweets: { id: string; text: string }[] = [];
    let newestId: string | undefined;
    let nextToken: string | undefined;
    // Without a since_id X answers newest first and the first page (~3–5 days of #opendir) is enough (seeds.md §1.9).
    const pages = sinceId ? (this.opts.maxPages ?? 10) : 1;
    for (let page = 0; page < pages; page++) {
      const body = await this.fetchPage(sinceId, nextToken);
      if (body.meta.result_count === 0) break;
      newestId ??= body.meta.newest_id ?? body.data?.[0]?.id;
      tweets.push(...(body.data ?? []));
      nextToken = body.meta.next_token;
      if (!nextToken) break;
    }
    if (nextToken) this.logger.warn({ pages }, 'more new tweets than one poll reads; the oldest were skipped');
    return { tweets: tweets.reverse(), newestId };
  }

  private async fetchPage(sinceId: string | undefined, nextToken: string | undefined): Promise<z.infer<typeof searchResponseSchema>> {
    const url = new URL(`${this.opts.x.apiBase.replace(/\/$/, '')}/tweets/search/recent`);
    url.searchParams.set('query', this.opts.x.query);
    url.searchParams.set('max_results', '100');
    if (sinceId) url.searchParams.set('since_id', sinceId);
    if (nextToken) url.searchParams.set('next_token', nextToken);
    const res = await this.http.send({
      method: 'GET',
      url: url.toString(),
      headers: { authorization: `Bearer ${this.opts.x.bearerToken}` },
      // X says when the window resets in x-rate-limit-reset; we pause polling instead of retrying in a loop.
      acceptStatus: [429],
    });
    if (res.status === 429) {
      const reset = Number(res.headers['x-rate-limit-reset']);
      const retryAfterMs = Number.isFinite(reset) && reset > 0 ? Math.max(0, reset * 1000 - this.opts.clock.now().getTime()) : parseRetryAfter(res.headers['retry-after']);
      throw new UpstreamError('X', 'X rate-limited the recent search; Sightline pauses the X module until the limit resets.', { status: 429, retryAfterMs });
    }
    const parsed = searchResponseSchema.safeParse(res.body);
    if (!parsed.success) {
      throw new UpstreamError('X', 'X answered the recent search with an unexpected body; check X_API_BASE.', { status: res.status, detail: parsed.error.message.slice(0, 300) });
    }
    return parsed.data;
  }

  private save(x: { sinceId?: string; query?: string; pausedUntil?: string }): Promise<void> {
    return this.opts.store.update((state) => {
      modulesStateOf(state).x = { ...x };
    });
  }
}

/**
 * X wraps every clickable URL in a `https://t.co/…` link; investigating t.co
 * itself only costs verdict calls. The IOCs people post are defanged (so not
 * wrapped) and stay in the text.
 */
export function withoutShortLinks(text: string): string {
  return text.replace(/https?:\/\/t\.co\/[A-Za-z0-9]{1,40}/g, ' ');
}
