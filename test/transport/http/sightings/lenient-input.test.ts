import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../../src/core/clock.js';
import { checkTime, parseSightingsBody } from '../../../../src/transport/http/sightings/schemas.js';
import { BEARER, ampSighting, modulePayload, startServer, type TestServer } from './helpers.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function post(url: string, body: Buffer | string, contentType = 'application/json'): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': contentType, authorization: `Bearer ${BEARER}` } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const NOW = new Date('2026-11-20T12:00:00Z');

describe('observed times (issue 17 item 11)', () => {
  it.each([
    ['2026-02-31T10:00:00Z', /not a real date \(2026-02-31 does not exist\)/],
    ['2025-02-29', /not a real date/],
    ['2026-04-31T00:00:00Z', /not a real date/],
    ['0000-01-01T00:00:00Z', /outside the range taken, 1990-01-01/],
    ['9999-12-31T23:59:59Z', /outside the range taken/],
    ['1989-12-31T23:59:59Z', /outside the range taken/],
    ['2026-11-22T12:00:00Z', /24 hours from now/],
  ])('refuses %s', (time, reason) => {
    const parsed = parseSightingsBody(modulePayload({ target_observed_time: time }), { now: NOW });
    expect(parsed.items).toEqual([]);
    expect(parsed.problems).toEqual([{ index: 0, field: 'target_observed_time', reason: expect.stringMatching(reason) }]);
  });

  it.each(['2024-02-29T10:00:00Z', '1990-01-01T00:00:00Z', '2026-11-21T11:59:59Z', '2026-11-20'])('takes %s', (time) => {
    expect('iso' in checkTime(time, NOW.getTime() + 86_400_000)).toBe(true);
  });

  it('checks a CTIM sighting target time the same way, naming its field', () => {
    const s = ampSighting();
    (s.targets as any)[0].observed_time = { start_time: '2026-02-31T00:00:00Z' };
    expect(parseSightingsBody(s, { now: NOW }).problems[0]).toMatchObject({ field: 'targets[0].observed_time.start_time' });
  });

  it('the route uses its clock for "now"', async () => {
    server = await startServer({ clock: new FakeClock('2022-02-07T18:00:00Z') });
    const future = await post(server.url, JSON.stringify(modulePayload({ target_observed_time: '2022-02-09T18:00:00Z' })));
    expect(future.status).toBe(422);
    const ok = await post(server.url, JSON.stringify(modulePayload()));
    expect(ok.status).toBe(202);
  });
});

describe('body encodings (issue 17 item 11)', () => {
  it.each(['utf-16', 'UTF-16LE', 'latin1', 'iso-8859-1', 'windows-1252'])('refuses charset=%s with 415 and a sentence', async (charset) => {
    server = await startServer();
    const res = await post(server.url, JSON.stringify(modulePayload()), `application/json; charset=${charset}`);
    expect(res.status).toBe(415);
    expect(res.body.message).toMatch(new RegExp(`charset=${charset} is not supported: send the body encoded as UTF-8`));
  });

  it.each(['utf-8', 'UTF-8', '"utf-8"', 'utf8'])('takes charset=%s', async (charset) => {
    server = await startServer();
    const res = await post(server.url, JSON.stringify(modulePayload()), `application/json; charset=${charset}`);
    expect(res.status).toBe(202);
  });

  it('refuses invalid UTF-8 with 400 instead of turning it into U+FFFD', async () => {
    server = await startServer();
    const json = Buffer.from(JSON.stringify(modulePayload({ target_value: 'hostXX' })));
    const at = json.indexOf('hostXX') + 4;
    json[at] = 0xc3; // a lead byte…
    json[at + 1] = 0x28; // …not followed by a continuation byte
    const res = await post(server.url, json);
    expect(res.status).toBe(400);
    expect(res.body.message).toBe('The body is not valid UTF-8: send it encoded as UTF-8.');
    expect(server.journal.lastSeq()).toBe(0);
  });

  it('takes real UTF-8 (accents, CJK) as is', async () => {
    server = await startServer();
    const res = await post(server.url, Buffer.from(JSON.stringify(modulePayload({ target_value: 'poste-café-東京' }))));
    expect(res.status).toBe(202);
    await server.intake.idle();
    expect(server.processor.received[0]!.target.observables.some((o) => o.value === 'poste-café-東京')).toBe(true);
  });
});
