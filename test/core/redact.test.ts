import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import { redactText, redactUrl } from '../../src/core/redact.js';

function capture(secrets: string[] = []) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger({ level: 'trace', destination, secrets }), text: () => lines.join('') };
}

const FEED = 'https://alice:pa55word@feeds.example/rss/feed?token=tok-3f9a2c1d&x=1#top';

describe('URLs in logs are redacted in one place (issue 17 item 9)', () => {
  it('keeps scheme, host and path; replaces userinfo and query', () => {
    expect(redactUrl(FEED)).toBe('https://[redacted]@feeds.example/rss/feed?[redacted]#top');
    expect(redactUrl('http://127.0.0.1:8080/api/v1/sightings')).toBe('http://127.0.0.1:8080/api/v1/sightings');
    expect(redactText(`fetch ${FEED} failed: ECONNREFUSED`)).toBe('fetch https://[redacted]@feeds.example/rss/feed?[redacted]#top failed: ECONNREFUSED');
  });

  it('redacts a feed URL in a field, nested fields, the message and an error', () => {
    const { logger, text } = capture();
    const cause = new Error(`request to ${FEED} failed`);
    logger.warn({ feed: FEED, module: { rss: { urls: [FEED] } }, err: cause }, `polling ${FEED} failed`);
    logger.error(new Error(`GET ${FEED}: 500`));
    const out = text();
    expect(out).not.toContain('tok-3f9a2c1d');
    expect(out).not.toContain('pa55word');
    expect(out).toContain('feeds.example/rss/feed?[redacted]');
    expect(JSON.parse(out.split('\n')[0]!).feed).toBe('https://[redacted]@feeds.example/rss/feed?[redacted]#top');
  });

  it("blanks the configured secrets wherever they appear, and never changes the caller's objects", () => {
    const { logger, text } = capture(['very-secret-bearer-token']);
    const fields = { note: 'header was Bearer very-secret-bearer-token', feed: FEED };
    logger.info(fields, 'auth very-secret-bearer-token refused');
    expect(text()).not.toContain('very-secret-bearer-token');
    expect(fields.feed).toBe(FEED);
  });
});
