import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { RssEmulator } from '../../src/emulators/rss/server.js';
import { parseFeed } from '../../src/modules/rss/feed-parser.js';

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

describe('RssEmulator', () => {
  let emu: RssEmulator;
  beforeEach(async () => {
    emu = new RssEmulator();
    await emu.start();
    emu.addFeed('talos', 'rss');
    emu.addFeed('unit42', 'atom');
  });
  afterEach(() => emu.stop());

  it('serves RSS and Atom that parse, newest item first', async () => {
    emu.addItem('talos', { title: 'Old', content: '<p>old</p>' });
    emu.addItem('talos', { title: 'New', content: '<p>evil[.]com ]]> tricky</p>' });
    emu.addItem('unit42', { title: 'Atom one', content: '<b>x</b>', id: 'urn:a1' });
    const rss = parseFeed((await get(emu.feedUrl('talos'))).text);
    expect(rss.items.map((i) => i.title)).toEqual(['New', 'Old']);
    expect(rss.items[0]!.content).toBe('<p>evil[.]com ]]> tricky</p>');
    const atom = parseFeed((await get(emu.feedUrl('unit42'))).text);
    expect(atom.items).toMatchObject([{ id: 'urn:a1', title: 'Atom one', content: '<b>x</b>' }]);
    expect(atom.items[0]!.link).toMatch(/\/articles\/unit42\/0$/);
  });

  it('answers 304 to a matching If-None-Match or If-Modified-Since, and 200 once an item is added', async () => {
    const first = await get(emu.feedUrl('talos'));
    const etag = first.headers['etag'] as string;
    const lastModified = first.headers['last-modified'] as string;
    expect(etag).toBeTruthy();
    expect(lastModified).toBeTruthy();
    expect((await get(emu.feedUrl('talos'), { 'if-none-match': etag })).status).toBe(304);
    expect((await get(emu.feedUrl('talos'), { 'if-modified-since': lastModified })).status).toBe(304);
    // If-None-Match wins over If-Modified-Since.
    expect((await get(emu.feedUrl('talos'), { 'if-none-match': '"other"', 'if-modified-since': lastModified })).status).toBe(200);
    emu.addItem('talos', { title: 'T', content: 'c' });
    expect((await get(emu.feedUrl('talos'), { 'if-none-match': etag })).status).toBe(200);
    expect((await get(emu.feedUrl('talos'), { 'if-modified-since': lastModified })).status).toBe(200);
    expect(emu.requests.map((r) => r.status)).toEqual([200, 304, 304, 200, 200, 200]);
    expect(emu.requests[1]!.ifNoneMatch).toBe(etag);
  });

  it('serves article pages, a malformed feed, 404s and injected failures', async () => {
    emu.addItem('talos', { title: 'T', content: 'feed text', article: 'full text 5.6.7.8' });
    const article = await get(`${emu.url}/articles/talos/0`);
    expect(article.text).toContain('full text 5.6.7.8');
    const malformed = await get(emu.malformedUrl);
    expect(malformed.status).toBe(200);
    expect(() => parseFeed(malformed.text)).toThrow(/not well-formed/);
    expect((await get(emu.feedUrl('nope'))).status).toBe(404);
    emu.failNext('talos', 1, 503);
    expect((await get(emu.feedUrl('talos'))).status).toBe(503);
    expect((await get(emu.feedUrl('talos'))).status).toBe(200);
  });
});
