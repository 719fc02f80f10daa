import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/core/errors.js';
import { parseFeed } from '../../../src/modules/rss/feed-parser.js';

describe('parseFeed', () => {
  it('reads RSS 2.0 with one item (not an array), CDATA content:encoded and a guid with attributes', () => {
    const feed = parseFeed(`<?xml version="1.0"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Talos</title>
<item><title>Threat Roundup &amp; more</title><link>https://blog.example/a</link>
<guid isPermaLink="false">tag:blog,2024:1</guid><pubDate>Fri, 10 May 2024 08:00:00 GMT</pubDate>
<description>short</description><content:encoded><![CDATA[<p>C2 at evil[.]com</p>]]></content:encoded></item>
</channel></rss>`);
    expect(feed.title).toBe('Talos');
    expect(feed.items).toEqual([
      { id: 'tag:blog,2024:1', title: 'Threat Roundup & more', link: 'https://blog.example/a', published: '2024-05-10T08:00:00.000Z', content: '<p>C2 at evil[.]com</p>' },
    ]);
  });

  it('falls back to description, then the link, for content and id', () => {
    const feed = parseFeed(`<rss version="2.0"><channel><item><title>A</title><link>https://b/1</link><description>&lt;b&gt;1.2.3.4&lt;/b&gt;</description></item><item><title>B</title><link>https://b/2</link></item></channel></rss>`);
    expect(feed.items.map((i) => [i.id, i.content])).toEqual([
      ['https://b/1', '<b>1.2.3.4</b>'],
      ['https://b/2', ''],
    ]);
  });

  it('gives items without guid or link a stable hash id', () => {
    const xml = `<rss version="2.0"><channel><item><title>Only a title</title><description>x</description></item></channel></rss>`;
    const [a] = parseFeed(xml).items;
    const [b] = parseFeed(xml).items;
    expect(a!.id).toMatch(/^hash:[0-9a-f]{32}$/);
    expect(a!.id).toBe(b!.id);
  });

  it('reads Atom: link array with rel, typed title, html and xhtml content', () => {
    const feed = parseFeed(`<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title type="text">Unit 42</title>
<entry><id>urn:1</id><title type="html">One</title>
<link rel="self" href="https://x/self"/><link rel="alternate" href="https://x/post-1"/>
<updated>2024-05-01T00:00:00Z</updated><content type="html">&lt;p&gt;evil[.]com&lt;/p&gt;</content></entry>
<entry><id>urn:2</id><title>Two</title><link href="https://x/post-2"/><published>2024-05-02T00:00:00Z</published>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>bad[.]org</p><p>and <b>1.2.3.4</b></p></div></content></entry>
<entry><id>urn:3</id><title>Three</title><summary>summary only</summary></entry>
</feed>`);
    expect(feed.title).toBe('Unit 42');
    expect(feed.items.map((i) => ({ id: i.id, link: i.link, published: i.published }))).toEqual([
      { id: 'urn:1', link: 'https://x/post-1', published: '2024-05-01T00:00:00.000Z' },
      { id: 'urn:2', link: 'https://x/post-2', published: '2024-05-02T00:00:00.000Z' },
      { id: 'urn:3', link: undefined, published: undefined },
    ]);
    expect(feed.items[0]!.content).toBe('<p>evil[.]com</p>');
    expect(feed.items[1]!.content).toContain('bad[.]org');
    expect(feed.items[1]!.content).toContain('1.2.3.4');
    expect(feed.items[2]!.content).toBe('summary only');
  });

  it('reads RSS 1.0 (RDF)', () => {
    const feed = parseFeed(`<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>R</title></channel><item><title>I</title><link>https://r/1</link><dc:date>2024-01-01T00:00:00Z</dc:date><description>d</description></item></rdf:RDF>`);
    expect(feed.items).toEqual([{ id: 'https://r/1', title: 'I', link: 'https://r/1', published: '2024-01-01T00:00:00.000Z', content: 'd' }]);
  });

  it('returns no items for an empty channel', () => {
    expect(parseFeed('<rss version="2.0"><channel><title>E</title></channel></rss>').items).toEqual([]);
  });

  it('refuses malformed XML and non-feed XML with a sentence', () => {
    expect(() => parseFeed('<rss><channel><item><title>x</channel></rss>', 'The feed https://f')).toThrow(ValidationError);
    expect(() => parseFeed('<rss><channel><item>', 'The feed https://f')).toThrow(/The feed https:\/\/f is not well-formed XML/);
    expect(() => parseFeed('<html><body>hi</body></html>')).toThrow(/neither RSS nor Atom/);
    expect(() => parseFeed('')).toThrow(ValidationError);
  });
});
