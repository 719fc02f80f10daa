import { afterEach, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { Router } from 'express';
import { silentLogger } from '../../../src/core/logger.js';
import { systemClock } from '../../../src/core/clock.js';
import { startHttpServer, type RunningHttpServer } from '../../../src/transport/http/server.js';
import { fastRouteOf } from '../../../src/transport/http/fast-route.js';
import { signedSightingsHeaders } from '../../../src/transport/http/sightings/auth.js';
import { SightingJournal } from '../../../src/store/journal/journal.js';
import { JournaledIntake } from '../../../src/store/journal/intake.js';
import { createSightingsRouter, SIGHTINGS_PATH } from '../../../src/transport/http/sightings/route.js';
import { HMAC_SECRET, RecordingProcessor, modulePayload, tempJournalPath } from './sightings/helpers.js';

let running: { http: RunningHttpServer; stop(): Promise<void> } | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

/** The app's HTTP server with the sightings router and one express route, as app.ts wires them. */
async function start(rateLimitPerMinute = 1000) {
  const journal = await SightingJournal.open({ path: await tempJournalPath(), clock: systemClock, logger: silentLogger, dedupeWindowSeconds: 300 });
  const processor = new RecordingProcessor();
  const intake = new JournaledIntake({ journal, processor, clock: systemClock, logger: silentLogger });
  const other = Router();
  // Sees every request express handles: the fast path's must never show up here.
  const seenByExpress: string[] = [];
  other.use((req, _res, next) => {
    seenByExpress.push(`${req.method} ${req.path}`);
    next();
  });
  other.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  const counted = { refused: 0, accepted: 0 };
  const sightings = createSightingsRouter({
    intake,
    auth: { hmacSecret: HMAC_SECRET },
    bodyLimitBytes: 64 * 1024,
    maxBatch: 100,
    logger: silentLogger,
    clock: systemClock,
    metrics: { accepted: (n) => (counted.accepted += n), duplicates: () => undefined, refused: (_r, n) => (counted.refused += n) },
  });
  const http = await startHttpServer({ host: '127.0.0.1', port: 0, rateLimitPerMinute, logger: silentLogger, routers: [other, sightings] });
  running = {
    http,
    stop: async () => {
      await intake.stop();
      await http.close();
      await journal.close();
    },
  };
  return { http, processor, intake, counted, journal, seenByExpress };
}

async function call(url: string, init: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {}) {
  const res = await request(url, { method: (init.method ?? 'GET') as 'GET', body: init.body, headers: init.headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

function signedPost(body: string | Buffer, signedOver: string | Buffer = body, extra: Record<string, string> = {}) {
  return { method: 'POST', body, headers: { 'content-type': 'application/json', ...signedSightingsHeaders(HMAC_SECRET, signedOver), ...extra } };
}

const pick = (h: Record<string, unknown>, names: string[]) => Object.fromEntries(names.map((n) => [n, h[n]]));
const ANSWER_HEADERS = ['content-type', 'allow', 'www-authenticate', 'ratelimit-policy'];

describe('HTTP server: the sightings fast path', () => {
  it('marks the sightings router with its fast route, and only that one', () => {
    expect(fastRouteOf(Router())).toBeUndefined();
  });

  it('answers POST /api/v1/sightings itself, durably, and still sends every other path to express', async () => {
    const { http, processor, intake, counted, seenByExpress } = await start();
    const body = JSON.stringify(modulePayload({ id: 'fast-1' }));
    const res = await call(`${http.url}${SIGHTINGS_PATH}?from=module`, signedPost(body));
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: 1, duplicates: 0, rejected: [], ids: ['fast-1'] });
    await intake.idle();
    expect(processor.received.map((s) => s.dedupeKey)).toEqual(['fast-1']);
    expect(counted.accepted).toBe(1);
    expect(await call(`${http.url}/healthz`)).toMatchObject({ status: 200, body: { status: 'ok' } });
    const missing = await call(`${http.url}/nowhere`);
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('not_found');
    // Spellings express matches but the fast path does not: same endpoint, through express.
    const slash = JSON.stringify(modulePayload({ id: 'slash-1' }));
    expect((await call(`${http.url}${SIGHTINGS_PATH}/`, signedPost(slash))).body).toMatchObject({ accepted: 1, ids: ['slash-1'] });
    expect(seenByExpress).toEqual(['GET /healthz', 'GET /nowhere', `POST ${SIGHTINGS_PATH}/`]);
  });

  it('gives the same status, body and headers as the express door for refusals of every kind', async () => {
    const { http } = await start();
    const good = JSON.stringify(modulePayload());
    const cases: Array<[string, Parameters<typeof call>[1]]> = [
      ['GET', { method: 'GET' }],
      ['no credentials', { method: 'POST', body: good, headers: { 'content-type': 'application/json' } }],
      ['bad signature', signedPost(good, 'something else')],
      ['text/plain', { ...signedPost(good), headers: { ...signedPost(good).headers, 'content-type': 'text/plain' } }],
      ['utf-16', { ...signedPost(good), headers: { ...signedPost(good).headers, 'content-type': 'application/json; charset=utf-16' } }],
      ['malformed JSON', signedPost('{"target_type": "hostname",\n "x": }')],
      ['invalid UTF-8', signedPost(Buffer.from([0x7b, 0xff, 0x7d]))],
      ['empty array', signedPost('[]')],
      ['too many', signedPost(JSON.stringify(Array.from({ length: 101 }, () => modulePayload())))],
      ['too big', signedPost(`[${' '.repeat(70 * 1024)}]`)],
      ['nothing valid', signedPost(JSON.stringify([modulePayload({ target_observed_time: 'never' }), { nope: 1 }]))],
      ['gzip with a bad body', signedPost(gzipSync('{'), '{', { 'content-encoding': 'gzip' })],
      ['unknown content coding', signedPost(good, good, { 'content-encoding': 'snappy' })],
    ];
    for (const [name, init] of cases) {
      const fast = await call(`${http.url}${SIGHTINGS_PATH}`, init);
      const viaExpress = await call(`${http.url}${SIGHTINGS_PATH}/`, init);
      expect({ name, status: fast.status, body: fast.body, headers: pick(fast.headers, ANSWER_HEADERS) }).toEqual({
        name,
        status: viaExpress.status,
        body: viaExpress.body,
        headers: pick(viaExpress.headers, ANSWER_HEADERS),
      });
      expect(fast.status, name).toBeGreaterThanOrEqual(400);
    }
  });

  it('takes gzip bodies on the fast path, signed over the inflated bytes', async () => {
    const { http } = await start();
    const body = JSON.stringify(modulePayload({ id: 'zipped-1' }));
    const res = await call(`${http.url}${SIGHTINGS_PATH}`, signedPost(gzipSync(body), body, { 'content-encoding': 'gzip' }));
    expect(res).toMatchObject({ status: 202, body: { accepted: 1, ids: ['zipped-1'] } });
  });

  it('rate limits both doors from one budget per address, with express-rate-limit\'s 429 and headers', async () => {
    const { http } = await start(3);
    const body = JSON.stringify(modulePayload({ id: 'limited-1' }));
    const first = await call(`${http.url}${SIGHTINGS_PATH}`, signedPost(body));
    expect(first.status).toBe(202);
    expect(first.headers['ratelimit-policy']).toBe('3;w=60');
    expect(first.headers['ratelimit']).toMatch(/^limit=3, remaining=2, reset=(59|60)$/);
    expect((await call(`${http.url}/healthz`)).headers['ratelimit']).toMatch(/^limit=3, remaining=1, /);
    expect((await call(`${http.url}${SIGHTINGS_PATH}`, signedPost(body))).status).toBe(202);
    const fast429 = await call(`${http.url}${SIGHTINGS_PATH}`, signedPost(body));
    const express429 = await call(`${http.url}/healthz`);
    for (const r of [fast429, express429]) {
      expect(r.status).toBe(429);
      expect(r.body).toEqual({ error: 'rate_limited', message: 'Too many requests from this address; slow down and retry after the time in Retry-After.' });
      expect(r.headers['retry-after']).toMatch(/^(59|60)$/);
      expect(r.headers['ratelimit']).toMatch(/^limit=3, remaining=0, /);
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    }
  });
});
