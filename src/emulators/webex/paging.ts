import type { Request, Response } from 'express';
import { WebexHttpError } from './http-error.js';

/**
 * Webex list paging: `max` (1–1000) per page and an RFC 5988 `Link: <…>; rel="next"`
 * header carrying an opaque cursor (webex.md §3.2). Clients must follow the URL as given.
 */
export function sendPage<T>(req: Request, res: Response, items: T[], defaultMax = 100): void {
  const max = parseMax(req.query['max'], defaultMax);
  const cursor = typeof req.query['cursor'] === 'string' ? Number(Buffer.from(req.query['cursor'], 'base64url').toString()) : 0;
  const start = Number.isInteger(cursor) && cursor >= 0 ? cursor : 0;
  const page = items.slice(start, start + max);
  if (start + max < items.length) {
    const next = new URL(`${req.protocol}://${req.get('host')}${req.originalUrl}`);
    next.searchParams.set('max', String(max));
    next.searchParams.set('cursor', Buffer.from(String(start + max)).toString('base64url'));
    res.setHeader('Link', `<${next.toString()}>; rel="next"`);
  }
  res.json({ items: page });
}

function parseMax(raw: unknown, fallback: number): number {
  if (raw === undefined) return fallback;
  const max = Number(raw);
  if (!Number.isInteger(max) || max < 1 || max > 1000) throw new WebexHttpError(400, 'max must be an integer between 1 and 1000.');
  return max;
}
