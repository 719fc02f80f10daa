import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../../src/core/clock.js';
import { targetIdentity } from '../../../../src/domain/investigate/target-identity.js';
import { signSightingsBody, signedSightingsHeaders } from '../../../../src/transport/http/sightings/auth.js';
import { jsonErrorPosition } from '../../../../src/transport/http/sightings/route.js';
import { BEARER, HMAC_SECRET, ampSighting, modulePayload, startServer, type TestServer } from './helpers.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

function signed(body: string, now = new Date()): Record<string, string> {
  return signedSightingsHeaders(HMAC_SECRET, body, now);
}

const bearer = { authorization: `Bearer ${BEARER}` };

describe('POST /api/v1/sightings: accepting', () => {
  it('takes the seed 7-field payload (HMAC) and hands one sighting to the processor', async () => {
    server = await startServer();
    const body = JSON.stringify(modulePayload());
    const res = await post(server.url, body, signed(body));
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: 1, duplicates: 0, rejected: [], ids: [expect.stringMatching(/^sha256:/)] });
    await server.intake.idle();
    expect(server.processor.received).toHaveLength(1);
    const got = server.processor.received[0]!;
    expect(targetIdentity(got.target).key).toBe('hostname:heimdallr');
    expect(got.observedAt).toBe('2022-02-07T17:18:28.000Z');
    expect(got.seq).toBe(1);
  });

  it('takes a structured sighting with a bearer token and picks the hostname among four target observables', async () => {
    server = await startServer();
    const res = await post(server.url, JSON.stringify(ampSighting()), bearer);
    expect(res.status).toBe(202);
    await server.intake.idle();
    expect(targetIdentity(server.processor.received[0]!.target).key).toBe('hostname:heimdallr');
  });

  it('normalises a MAC-only target', async () => {
    server = await startServer();
    const s = ampSighting({ targets: [{ type: 'endpoint', observables: [{ type: 'mac_address', value: '00-0C-29-0F-6F-0A' }] }] });
    expect((await post(server.url, JSON.stringify(s), bearer)).status).toBe(202);
    await server.intake.idle();
    expect(targetIdentity(server.processor.received[0]!.target).key).toBe('mac_address:00:0c:29:0f:6f:0a');
  });

  it('takes the good items of a mixed batch and lists the rejected one', async () => {
    server = await startServer();
    const batch = [modulePayload(), modulePayload({ target_observed_time: 'not a time' }), ampSighting({ id: 'sighting-2' })];
    const res = await post(server.url, JSON.stringify(batch), bearer);
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(2);
    expect(res.body.rejected).toEqual([{ index: 1, field: 'target_observed_time', reason: expect.any(String) }]);
    expect(res.body.ids).toEqual([expect.stringMatching(/^sha256:/), 'sighting-2']);
  });

  it('answers 202 only once the items are in the journal file', async () => {
    server = await startServer();
    const res = await post(server.url, JSON.stringify(ampSighting({ id: 'durable-1' })), bearer);
    expect(res.status).toBe(202);
    const lines = (await readFile(journalFile(server), 'utf8')).trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).item.dedupeKey)).toEqual(['durable-1']);
  });

  it('counts a redelivery once: same id twice, and same content twice without id', async () => {
    server = await startServer();
    const withId = JSON.stringify(ampSighting({ id: 'sighting-dup' }));
    expect((await post(server.url, withId, bearer)).body).toMatchObject({ accepted: 1, duplicates: 0 });
    expect((await post(server.url, withId, bearer)).body).toMatchObject({ accepted: 0, duplicates: 1, ids: ['sighting-dup'] });
    const noId = JSON.stringify(modulePayload());
    expect((await post(server.url, noId, bearer)).body).toMatchObject({ accepted: 1, duplicates: 0 });
    expect((await post(server.url, noId, bearer)).body).toMatchObject({ accepted: 0, duplicates: 1 });
    await server.intake.idle();
    expect(server.processor.received).toHaveLength(2);
  });

  it('journals 200 concurrent posts exactly once each, with unique increasing seqs', async () => {
    server = await startServer();
    const url = server.url;
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) => post(url, JSON.stringify(ampSighting({ id: `concurrent-${i}` })), bearer)),
    );
    expect(responses.every((r) => r.status === 202 && r.body.accepted === 1)).toBe(true);
    const entries = (await readFile(journalFile(server), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; item: { dedupeKey: string } });
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(new Set(entries.map((e) => e.item.dedupeKey)).size).toBe(200);
    await server.intake.idle();
    expect(server.processor.received.map((s) => s.seq)).toEqual(entries.map((e) => e.seq));
  });
});

describe('POST /api/v1/sightings: refusing', () => {
  it('422 lists every problem when no item is valid', async () => {
    server = await startServer();
    const res = await post(server.url, JSON.stringify([modulePayload({ ioc_value: '' }), { hello: 1 }]), bearer);
    expect(res.status).toBe(422);
    expect(res.body).toEqual({
      error: 'validation_failed',
      message: expect.stringContaining('None of the 2'),
      problems: [
        { index: 0, field: 'ioc_value', reason: 'is empty' },
        { index: 1, field: '(item)', reason: expect.any(String) },
      ],
    });
    expect(server.journal.lastSeq()).toBe(0);
  });

  it('400 on malformed JSON, with the position', async () => {
    server = await startServer();
    const res = await post(server.url, '{"target_type": "hostname",\n "x": }', bearer);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('validation_failed');
    expect(res.body.message).toContain('position 34 (line 2, column 7)');
  });

  it('415 when the content type is not JSON', async () => {
    server = await startServer();
    const res = await post(server.url, JSON.stringify(modulePayload()), { ...bearer, 'content-type': 'text/plain' });
    expect(res.status).toBe(415);
    expect(res.body).toMatchObject({ error: 'validation_failed', message: expect.stringContaining('application/json') });
  });

  it('413 for a body over the limit, and for more items than maxBatch', async () => {
    server = await startServer({ bodyLimitBytes: 10_000, maxBatch: 3 });
    const huge = JSON.stringify([ampSighting({ description: 'x'.repeat(20_000) })]);
    const tooBig = await post(server.url, huge, bearer);
    expect(tooBig.status).toBe(413);
    expect(tooBig.body).toEqual({ error: 'payload_too_large', message: expect.stringContaining('10000') });
    const tooMany = await post(server.url, JSON.stringify([1, 2, 3, 4]), bearer);
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.message).toContain('at most 3');
  });

  it('is off (404, with the fix) when neither secret nor token is configured', async () => {
    server = await startServer({ auth: {} });
    const res = await post(server.url, JSON.stringify(modulePayload()), bearer);
    expect(res.status).toBe(404);
    expect(res.body.message).toContain('SIGHTINGS_HMAC_SECRET or SIGHTINGS_BEARER_TOKEN');
  });

  it('401 on a bad signature, a missing or stale timestamp, missing credentials and a wrong token', async () => {
    const clock = new FakeClock('2024-05-01T12:00:00Z');
    server = await startServer({ clock });
    const body = JSON.stringify(modulePayload());
    const now = clock.now();
    const ts = Math.floor(now.getTime() / 1000);
    const cases: Record<string, string>[] = [
      { 'x-sightline-signature': signSightingsBody('another-secret-123456', body, ts), 'x-sightline-timestamp': String(ts) },
      { 'x-sightline-signature': signSightingsBody(HMAC_SECRET, `${body} `, ts), 'x-sightline-timestamp': String(ts) },
      { 'x-sightline-signature': signSightingsBody(HMAC_SECRET, body, ts) },
      signed(body, new Date(now.getTime() - 6 * 60_000)),
      {},
      { authorization: 'Bearer wrong-token-0123456789' },
    ];
    for (const headers of cases) {
      const res = await post(server.url, body, headers);
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(res.body.error).toBe('unauthorized');
    }
    expect((await post(server.url, body, signed(body, now))).status).toBe(202);
    expect(server.journal.lastSeq()).toBe(1);
  });

  it('405 for other methods', async () => {
    server = await startServer();
    const res = await fetch(server.url);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});

describe('jsonErrorPosition', () => {
  it('finds where the JSON breaks', () => {
    for (const bad of ['{"a":}', '[1,2,]', '{"a" 1}', '"abc', '{"a":tru}', '[1] x', '{"a":"\\q"}', '']) {
      expect(() => JSON.parse(bad)).toThrow();
      expect(jsonErrorPosition(bad)).toBeGreaterThanOrEqual(0);
    }
    expect(jsonErrorPosition('{"a":}')).toBe(5);
    expect(jsonErrorPosition('[1,2,]')).toBe(5);
    expect(jsonErrorPosition('[1] x')).toBe(4);
    expect(jsonErrorPosition('[[[[')).toBe(4);
  });
});

function journalFile(s: TestServer): string {
  return (s.journal as unknown as { opts: { path: string } }).opts.path;
}
