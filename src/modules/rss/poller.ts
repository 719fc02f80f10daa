import { HttpClient } from '../../clients/http.js';
import { asSightlineError } from '../../core/errors.js';
import { MAX_TEXT_CHARS } from '../../domain/ioc/extract.js';
import { investigateModuleText, type InvestigateStats, type ModuleDeps } from '../pipeline.js';
import { MAX_SEEN_ITEMS, modulesStateOf, readModulesState } from '../state.js';
import { PollingModule } from '../periodic.js';
import { parseFeed, type FeedItem } from './feed-parser.js';

/**
 * The RSS/Atom sighting module: polls feeds with conditional GETs, investigates
 * only items it has not seen, and hands the sightings to the intake. Progress
 * (validators and seen item ids) lives in the store, so a restart neither
 * re-investigates old items nor misses new ones.
 *
 * Validators (ETag / Last-Modified) are stored only once every new item of the
 * answer has been accepted: if XDR or the intake fails half-way, the next poll
 * gets a 200 again instead of a 304 and retries the items still unseen.
 */
export interface RssModuleOptions extends ModuleDeps {
  feeds: string[];
  http: HttpClient | undefined;
  /** Also download each item's page (same host as the feed only). Off by default: feeds carry the text. */
  fetchArticle?: boolean;
  /** New items investigated per feed and poll; the rest wait for the next poll. */
  maxItemsPerPoll?: number;
}

export interface FeedPollResult {
  feed: string;
  status: 'not-modified' | 'updated' | 'failed';
  newItems: number;
  investigatedItems: number;
  accepted: number;
  duplicates: number;
  stats: InvestigateStats[];
  error?: string;
}

export interface RssPollReport {
  feeds: FeedPollResult[];
  accepted: number;
  failed: number;
}

const FEED_ACCEPT = 'application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5';
const USER_AGENT = 'Sightline RSS module';
const MAX_FEED_BYTES = 10 * 1024 * 1024;
const MAX_ARTICLE_BYTES = 5 * 1024 * 1024;

export class RssModule extends PollingModule<RssPollReport> {
  private readonly http: HttpClient;

  constructor(private readonly opts: RssModuleOptions) {
    super(opts.logger.child({ component: 'rss' }));
    this.http = opts.http ?? new HttpClient({ service: 'RSS feed', logger: this.logger });
  }

  get enabled(): boolean {
    return this.opts.feeds.length > 0;
  }

  /** Polls every feed once; one failing feed is reported and logged, the others are still polled. */
  async pollOnce(): Promise<RssPollReport> {
    const results: FeedPollResult[] = [];
    for (const feed of this.opts.feeds) results.push(await this.pollFeed(feed));
    return { feeds: results, accepted: results.reduce((n, r) => n + r.accepted, 0), failed: results.filter((r) => r.status === 'failed').length };
  }

  private async pollFeed(feed: string): Promise<FeedPollResult> {
    const result: FeedPollResult = { feed, status: 'updated', newItems: 0, investigatedItems: 0, accepted: 0, duplicates: 0, stats: [] };
    try {
      const known = readModulesState(this.opts.store.get()).rss[feed];
      const headers: Record<string, string> = { accept: FEED_ACCEPT, 'user-agent': USER_AGENT };
      if (known?.etag) headers['if-none-match'] = known.etag;
      if (known?.lastModified) headers['if-modified-since'] = known.lastModified;
      const res = await this.http.send({ method: 'GET', url: feed, headers, acceptStatus: [304], maxBodyBytes: MAX_FEED_BYTES });
      if (res.status === 304) {
        result.status = 'not-modified';
        await this.saveFeed(feed, {});
        return result;
      }
      const parsed = parseFeed(res.text, `The feed ${feed}`);
      const seen = new Set(known?.seen ?? []);
      const fresh = oldestFirst(parsed.items.filter((i) => !seen.has(i.id)));
      result.newItems = fresh.length;
      const now = fresh.slice(0, this.opts.maxItemsPerPoll ?? 50);
      for (const batch of batches(await this.texts(feed, now))) {
        const found = await investigateModuleText(this.opts, batch.map((b) => b.text).join('\n\n'), `rss:${feed}`);
        const outcome = found.sightings.length > 0 ? await this.opts.intake.accept(found.sightings) : { accepted: 0, duplicates: 0 };
        result.accepted += outcome.accepted;
        result.duplicates += outcome.duplicates;
        result.investigatedItems += batch.length;
        result.stats.push(found.stats);
        await this.saveFeed(feed, { seen: batch.map((b) => b.item.id) });
      }
      const complete = now.length === fresh.length;
      await this.saveFeed(feed, complete ? { etag: res.headers['etag'], lastModified: res.headers['last-modified'] } : {});
      this.logger.info({ feed, newItems: result.newItems, investigated: result.investigatedItems, accepted: result.accepted }, 'feed polled');
      return result;
    } catch (err) {
      const e = asSightlineError(err);
      this.logger.warn({ feed, err: e }, 'feed poll failed; the other feeds are still polled');
      await this.saveFeed(feed, { error: e.userMessage }).catch(() => undefined);
      return { ...result, status: 'failed', error: e.userMessage };
    }
  }

  private async texts(feed: string, items: FeedItem[]): Promise<{ item: FeedItem; text: string }[]> {
    const out: { item: FeedItem; text: string }[] = [];
    for (const item of items) {
      let text = `${item.title}\n${item.content}`;
      if (this.opts.fetchArticle && item.link && sameHost(feed, item.link)) text += `\n${await this.article(item.link)}`;
      out.push({ item, text });
    }
    return out;
  }

  /** The item's page; a failure only loses the extra text, the item is still investigated from the feed. */
  private async article(link: string): Promise<string> {
    try {
      const res = await this.http.send({ method: 'GET', url: link, headers: { accept: 'text/html', 'user-agent': USER_AGENT }, maxBodyBytes: MAX_ARTICLE_BYTES });
      return res.text;
    } catch (err) {
      this.logger.warn({ link, err: asSightlineError(err) }, 'article could not be fetched; using the feed text only');
      return '';
    }
  }

  private saveFeed(feed: string, change: { seen?: string[]; etag?: string; lastModified?: string; error?: string }): Promise<void> {
    return this.opts.store.update((state) => {
      const rss = modulesStateOf(state).rss;
      const entry = (rss[feed] ??= { seen: [] });
      if (change.seen) entry.seen = [...entry.seen, ...change.seen].slice(-MAX_SEEN_ITEMS);
      if (change.etag !== undefined || change.lastModified !== undefined) {
        entry.etag = change.etag;
        entry.lastModified = change.lastModified;
      }
      entry.lastPolledAt = this.opts.clock.now().toISOString();
      entry.lastError = change.error;
    });
  }
}

/** Feeds list newest first; investigating oldest first keeps the seen list in publication order. */
function oldestFirst(items: FeedItem[]): FeedItem[] {
  return items.map((item, index) => ({ item, index })).sort((a, b) => b.index - a.index).map((x) => x.item);
}

/** Groups item texts so one investigation never exceeds the extractor's input cap. */
function batches<T extends { text: string }>(items: T[]): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const it of items) {
    const text = it.text.length > MAX_TEXT_CHARS / 2 ? it.text.slice(0, MAX_TEXT_CHARS / 2) : it.text;
    if (current.length > 0 && size + text.length > MAX_TEXT_CHARS - 1_000) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push({ ...it, text });
    size += text.length + 2;
  }
  if (current.length > 0) out.push(current);
  return out;
}

function sameHost(feed: string, link: string): boolean {
  try {
    return new URL(feed).host === new URL(link).host;
  } catch {
    return false;
  }
}
