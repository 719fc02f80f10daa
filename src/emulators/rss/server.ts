import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoopbackEmulator } from '../loopback.js';

/**
 * A local feed server for the RSS module: RSS 2.0 and Atom feeds with ETag and
 * Last-Modified validators and 304 answers (what feedparser-based seed B2 relied
 * on), items added at run time, article pages for the optional article fetch,
 * a malformed feed, failure injection and a request log with the conditional
 * headers each request carried.
 *
 * Routes: GET /feeds/{name} · GET /articles/{name}/{n} · GET /malformed
 */
export interface EmulatedItem {
  title: string;
  /** HTML body; in RSS it goes to `content:encoded`, in Atom to `<content type="html">`. */
  content: string;
  /** Defaults to a unique guid per item. */
  id?: string;
  /** Defaults to the emulator's article page for the item. */
  link?: string;
  published?: string;
  /** Served at the item's article page (defaults to the content). */
  article?: string;
}

export interface LoggedFeedRequest {
  method: string;
  path: string;
  status: number;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  userAgent?: string;
}

interface Feed {
  format: 'rss' | 'atom';
  title: string;
  items: { title: string; content: string; id: string; link?: string; article: number; published: string }[];
  articles: string[];
  version: number;
  lastModified: number;
}

export class RssEmulator extends LoopbackEmulator {
  readonly requests: LoggedFeedRequest[] = [];
  private readonly feeds = new Map<string, Feed>();
  private readonly failures = new Map<string, number[]>();
  private nextGuid = 1;

  constructor(private readonly now: () => number = () => Date.now()) {
    super();
  }

  feedUrl(name: string): string {
    return `${this.baseUrl}/feeds/${encodeURIComponent(name)}`;
  }

  get malformedUrl(): string {
    return `${this.baseUrl}/malformed`;
  }

  /** Creates (or empties) a feed. */
  addFeed(name: string, format: 'rss' | 'atom' = 'rss', title = `${name} feed`): void {
    this.feeds.set(name, { format, title, items: [], articles: [], version: 1, lastModified: this.tick(0) });
  }

  /** Publishes an item at the top of the feed: the ETag and Last-Modified change. Returns its id. */
  addItem(name: string, item: EmulatedItem): string {
    const feed = this.feeds.get(name);
    if (!feed) throw new Error(`addItem: no feed "${name}"; call addFeed first`);
    const n = feed.articles.length;
    const id = item.id ?? `urn:emulator:${name}:${this.nextGuid++}`;
    feed.articles.push(item.article ?? item.content);
    feed.items.unshift({
      id,
      title: item.title,
      content: item.content,
      link: item.link,
      article: n,
      published: item.published ?? new Date(this.now()).toISOString(),
    });
    feed.version++;
    feed.lastModified = this.tick(feed.lastModified);
    return id;
  }

  /** The next `count` requests for the feed answer `status`. */
  failNext(name: string, count = 1, status = 503): void {
    const queue = this.failures.get(name) ?? [];
    for (let i = 0; i < count; i++) queue.push(status);
    this.failures.set(name, queue);
  }

  etagOf(name: string): string | undefined {
    const feed = this.feeds.get(name);
    return feed && etag(name, feed);
  }

  /** Last-Modified has one-second precision, so each change moves it at least a second forward. */
  private tick(previous: number): number {
    const now = Math.floor(this.now() / 1000) * 1000;
    return Math.max(now, previous + 1000);
  }

  protected handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const log: LoggedFeedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      status: 200,
      ifNoneMatch: header(req, 'if-none-match'),
      ifModifiedSince: header(req, 'if-modified-since'),
      userAgent: header(req, 'user-agent'),
    };
    const answer = (status: number, body: string, headers: Record<string, string> = {}) => {
      log.status = status;
      this.requests.push(log);
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
      res.end(status === 304 || req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(405, 'Method Not Allowed', { allow: 'GET, HEAD' });
    if (url.pathname === '/malformed') {
      return answer(200, '<?xml version="1.0"?><rss version="2.0"><channel><title>Broken</title><item><title>unclosed', { 'content-type': 'application/rss+xml' });
    }
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const feed = parts[1] === undefined ? undefined : this.feeds.get(parts[1]);
    if (!feed || !parts[1]) return answer(404, 'Not Found');
    const failure = this.failures.get(parts[1])?.shift();
    if (failure !== undefined) return answer(failure, `${failure}: Injected failure`);
    if (parts[0] === 'articles' && parts.length === 3) {
      const article = feed.articles[Number(parts[2])];
      return article === undefined ? answer(404, 'Not Found') : answer(200, `<html><body><article>${article}</article></body></html>`, { 'content-type': 'text/html; charset=utf-8' });
    }
    if (parts[0] !== 'feeds' || parts.length !== 2) return answer(404, 'Not Found');
    const tag = etag(parts[1], feed);
    const lastModified = new Date(feed.lastModified).toUTCString();
    const validators = { etag: tag, 'last-modified': lastModified };
    // RFC 9110 §13.1.3: If-None-Match wins over If-Modified-Since.
    if (log.ifNoneMatch !== undefined) {
      if (log.ifNoneMatch.split(',').map((s) => s.trim()).some((t) => t === tag || t === '*')) return answer(304, '', validators);
    } else if (log.ifModifiedSince !== undefined) {
      const since = Date.parse(log.ifModifiedSince);
      if (!Number.isNaN(since) && feed.lastModified <= since) return answer(304, '', validators);
    }
    const name = parts[1];
    const linkOf = (i: Feed['items'][number]) => i.link ?? `${this.baseUrl}/articles/${encodeURIComponent(name)}/${i.article}`;
    const body = feed.format === 'rss' ? renderRss(feed, linkOf) : renderAtom(feed, this.feedUrl(name), linkOf);
    return answer(200, body, { ...validators, 'content-type': feed.format === 'rss' ? 'application/rss+xml; charset=utf-8' : 'application/atom+xml; charset=utf-8' });
  }
}

function etag(name: string, feed: Feed): string {
  return `"${name}-v${feed.version}"`;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

type LinkOf = (item: Feed['items'][number]) => string;

function renderRss(feed: Feed, linkOf: LinkOf): string {
  const items = feed.items
    .map(
      (i) => `    <item>
      <title>${escapeXml(i.title)}</title>
      <link>${escapeXml(linkOf(i))}</link>
      <guid isPermaLink="false">${escapeXml(i.id)}</guid>
      <pubDate>${new Date(i.published).toUTCString()}</pubDate>
      <description>${escapeXml(i.content.slice(0, 200))}</description>
      <content:encoded><![CDATA[${i.content.replaceAll(']]>', ']]]]><![CDATA[>')}]]></content:encoded>
    </item>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
  <channel>
    <title>${escapeXml(feed.title)}</title>
    <link>http://127.0.0.1/</link>
    <description>Emulated feed</description>
${items}
  </channel>
</rss>
`;
}

function renderAtom(feed: Feed, self: string, linkOf: LinkOf): string {
  const entries = feed.items
    .map(
      (i) => `  <entry>
    <id>${escapeXml(i.id)}</id>
    <title type="text">${escapeXml(i.title)}</title>
    <link rel="alternate" type="text/html" href="${escapeXml(linkOf(i))}"/>
    <published>${i.published}</published>
    <updated>${i.published}</updated>
    <content type="html">${escapeXml(i.content)}</content>
  </entry>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>${escapeXml(feed.title)}</title>
  <id>${escapeXml(self)}</id>
  <link rel="self" href="${escapeXml(self)}"/>
  <updated>${new Date(feed.lastModified).toISOString()}</updated>
${entries}
</feed>
`;
}

function escapeXml(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}
