import { stat } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ctimForPair } from '../../../../src/domain/correlation/ctim-rules.js';
import { ctimSighting } from '../../../../src/domain/correlation/xdr-sync.js';
import { validateNew } from '../../../../src/emulators/xdr/ctia-validate.js';
import { MAX_FANOUT_BYTES, MAX_PAIRS_PER_REQUEST } from '../../../../src/transport/http/sightings/schemas.js';
import { BEARER, ampSighting, startServer, type TestServer } from './helpers.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function post(url: string, body: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${BEARER}` } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** The attack of issue 17 item 2: one CTIM sighting naming many targets with long hostnames. */
function wideSighting(targets: number, hostLength = 300, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return ampSighting({
    targets: Array.from({ length: targets }, (_, i) => ({
      type: 'endpoint',
      observed_time: { start_time: '2022-02-07T17:18:28.000Z' },
      observables: [{ type: 'hostname', value: `h${i}-${'a'.repeat(hostLength)}`.slice(0, 250) }],
    })),
    ...extra,
  });
}

describe('amplification (issue 17 item 2)', () => {
  it('stores a 1,000-target sighting in about the size of the request, not once per pair', async () => {
    server = await startServer({ bodyLimitBytes: 5 * 1024 * 1024 });
    const body = JSON.stringify(wideSighting(1000));
    const res = await post(server.url, body);
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(1000);
    const journalBytes = (await stat(server.journal['opts'].path)).size;
    // Was ~1,000 × the request (each pair carried the whole sighting).
    expect(journalBytes).toBeLessThan(3 * body.length);
    await server.intake.idle();
    const got = server.processor.received;
    expect(got).toHaveLength(1000);
    expect(new Set(got.map((g) => g.dedupeKey)).size).toBe(1000);
    expect(got.every((g) => g.ctim === got[0]!.ctim)).toBe(true);
  });

  it('replays a fanned-out sighting from the journal with each pair whole', async () => {
    server = await startServer();
    await post(server.url, JSON.stringify(wideSighting(3, 10)));
    const replayed = [];
    for await (const e of server.journal.replay(0)) replayed.push(e);
    expect(replayed.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(replayed.map((e) => e.item.target.observables[0]!.value)).toEqual(['h0-aaaaaaaaaa', 'h1-aaaaaaaaaa', 'h2-aaaaaaaaaa']);
    expect(replayed.every((e) => (e.item.ctim as { description?: string }).description === 'Outgoing connection Sighting')).toBe(true);
  });

  it(`refuses with 413 and a sentence a request of more than ${MAX_PAIRS_PER_REQUEST} pairs in all, however they are spread`, async () => {
    server = await startServer();
    const body = JSON.stringify([wideSighting(600, 10), wideSighting(600, 12)]);
    const res = await post(server.url, body);
    expect(res.status).toBe(413);
    expect(res.body.message).toMatch(/more than 1000 \(target × observable\) pairs.*split/);
    expect(server.journal.lastSeq()).toBe(0);
  });

  it('refuses with 413 a big sighting fanned out to many targets (the copies for XDR), never a 5xx', async () => {
    server = await startServer({ bodyLimitBytes: 5 * 1024 * 1024 });
    const bulky = { data: { columns: [{ name: 'x', type: 'string' }], rows: [['y'.repeat(8000)]] } };
    const body = JSON.stringify(wideSighting(MAX_FANOUT_BYTES / 8000 + 10, 10, bulky));
    const res = await post(server.url, body);
    expect(res.status).toBe(413);
    expect(res.body.message).toMatch(/copies for XDR would exceed 4 MB/);
  });

  it('mirrors each pair with only its own target and IOC', () => {
    const ctim = wideSighting(50, 10);
    const copy = ctimForPair(ctim, {
      target: { type: 'endpoint', observables: [{ type: 'hostname', value: 'h7-aaaaaaaaaa' }] },
      ioc: { type: 'url', value: 'https://ictoms.site/ictom.zip' },
      observedAt: '2022-02-07T17:18:28.000Z',
    });
    expect(copy.targets).toHaveLength(1);
    expect((copy.targets as any)[0].observables[0].value).toBe('h7-aaaaaaaaaa');
    expect(copy.observables).toEqual([{ type: 'url', value: 'https://ictoms.site/ictom.zip' }]);
  });
});

describe('what the intake takes is what XDR takes (issue 17 item 12)', () => {
  it('accepts a target without observed_time and mirrors it with the sighting\'s own observed time, which CTIA takes', async () => {
    server = await startServer();
    const s = ampSighting();
    delete (s.targets as any)[0].observed_time;
    const res = await post(server.url, JSON.stringify(s));
    expect(res.status).toBe(202);
    await server.intake.idle();
    const copy = ctimSighting({ ...server.processor.received[0]!, seq: 1 });
    expect((copy.targets as any)[0].observed_time).toEqual({ start_time: '2022-02-07T17:18:28.000Z' });
    expect(validateNew('sighting', copy)).toBeUndefined();
  });

  it.each([
    ['title', { title: 'x'.repeat(1025) }],
    ['source', { source: 's'.repeat(2047) }],
    ['confidence', { confidence: 'Very High' }],
    ['tlp', { tlp: 'purple' }],
    ['count', { count: -1 }],
  ])('refuses at the door a sighting CTIA would refuse for good: %s', async (field, override) => {
    server = await startServer();
    const res = await post(server.url, JSON.stringify(ampSighting(override)));
    expect(res.status).toBe(422);
    expect(res.body.problems[0]).toMatchObject({ index: 0, field, reason: expect.stringMatching(/XDR would refuse/) });
  });

  it('checks the CTIM inside the module payload too', async () => {
    server = await startServer();
    const { modulePayload } = await import('./helpers.js');
    const res = await post(server.url, JSON.stringify(modulePayload({ sighting_json: JSON.stringify(ampSighting({ title: 't'.repeat(2000) })) })));
    expect(res.status).toBe(422);
    expect(res.body.problems[0]).toMatchObject({ field: 'sighting_json.title' });
  });
});
