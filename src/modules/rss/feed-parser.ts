import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { ValidationError } from '../../core/errors.js';
import { contentHash } from '../pipeline.js';

/**
 * RSS 2.0, RSS 1.0 (RDF) and Atom into one item shape. Tolerant on purpose:
 * feed formats drift (seeds.md §4, PR #111 "change in the Talos blog XML"), so
 * every field is optional, one item may come as an object instead of an array,
 * text may be CDATA or `{#text, @_type}`, and the body may be `content:encoded`,
 * `description`, `content` or `summary`.
 */
export interface FeedItem {
  /** guid / Atom id, else the link, else a hash of title and date: stable across polls. */
  id: string;
  title: string;
  link?: string;
  published?: string;
  /** HTML or text as the feed gave it. */
  content: string;
}

export interface ParsedFeed {
  title?: string;
  items: FeedItem[];
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  textNodeName: '#text',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  removeNSPrefix: false,
  htmlEntities: true,
});

export function parseFeed(xml: string, source = 'the feed'): ParsedFeed {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new ValidationError(`${source} is not well-formed XML (line ${valid.err.line}: ${valid.err.msg}); check the feed URL or tell its publisher.`, [
      { path: 'feed', message: valid.err.msg },
    ]);
  }
  const doc = parser.parse(xml) as Record<string, unknown>;
  const rss = record(doc['rss']);
  if (rss) {
    const channel = record(rss['channel']) ?? {};
    return { title: text(channel['title']), items: list(channel['item']).map(rssItem) };
  }
  const rdf = record(doc['rdf:RDF']);
  if (rdf) return { title: text(record(rdf['channel'])?.['title']), items: list(rdf['item']).map(rssItem) };
  const atom = record(doc['feed']);
  if (atom) return { title: text(atom['title']), items: list(atom['entry']).map(atomEntry) };
  throw new ValidationError(`${source} is XML but neither RSS nor Atom (no <rss>, <rdf:RDF> or <feed> root); check the feed URL.`, [
    { path: 'feed', message: 'unknown root element' },
  ]);
}

function rssItem(raw: unknown): FeedItem {
  const item = record(raw) ?? {};
  const title = text(item['title']) ?? '';
  const link = text(item['link']);
  const published = date(text(item['pubDate']) ?? text(item['dc:date']));
  const content = deepText(item['content:encoded']) ?? deepText(item['description']) ?? '';
  return { id: text(item['guid']) ?? link ?? fallbackId(title, published, content), title, link, published, content };
}

function atomEntry(raw: unknown): FeedItem {
  const entry = record(raw) ?? {};
  const title = text(entry['title']) ?? '';
  const link = atomLink(entry['link']);
  const published = date(text(entry['published']) ?? text(entry['updated']));
  const content = deepText(entry['content']) ?? deepText(entry['summary']) ?? '';
  return { id: text(entry['id']) ?? link ?? fallbackId(title, published, content), title, link, published, content };
}

/** `<link rel="alternate" href>` wins; a bare `<link href>` (no rel) means alternate too (RFC 4287 §4.2.7.2). */
function atomLink(raw: unknown): string | undefined {
  const links = list(raw).map((l) => (typeof l === 'string' ? { href: l, rel: 'alternate' } : { href: text(record(l)?.['@_href']), rel: text(record(l)?.['@_rel']) ?? 'alternate' }));
  return (links.find((l) => l.rel === 'alternate' && l.href) ?? links.find((l) => l.href))?.href;
}

function fallbackId(title: string, published: string | undefined, content: string): string {
  return `hash:${contentHash([title, published ?? '', content.slice(0, 2000)])}`;
}

function date(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const t = Date.parse(raw);
  return Number.isNaN(t) ? raw : new Date(t).toISOString();
}

/** A text node: a string, or `{#text}` when the element had attributes (`<guid isPermaLink>`, `<content type>`). */
function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() || undefined;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return text(value[0]);
  const node = record(value);
  return node ? text(node['#text']) : undefined;
}

/** All text below a node (Atom `type="xhtml"` content arrives as parsed elements), attributes left out. */
function deepText(value: unknown): string | undefined {
  const parts: string[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (depth > 50) return;
    if (typeof v === 'string' || typeof v === 'number') parts.push(String(v));
    else if (Array.isArray(v)) for (const x of v) walk(x, depth + 1);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) if (!k.startsWith('@_')) walk(x, depth + 1);
  };
  walk(value, 0);
  return parts.join(' ').trim() || undefined;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function list(value: unknown): unknown[] {
  if (value === undefined || value === null || value === '') return [];
  return Array.isArray(value) ? value : [value];
}
