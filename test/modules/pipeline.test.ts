import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../src/core/clock.js';
import { isOwnSighting } from '../../src/domain/investigate/sightings.js';
import { chunkText, investigateText, isClean, OWN_SOURCE_SUFFIX } from '../../src/modules/pipeline.js';
import { endpoint, fakeXdr, HASH, OTHER_HASH, sightingOn } from './fakes.js';

const sha = (value: string) => ({ type: 'sha256', value });
const base = { source: 'rss:https://blog.example/feed', excludedModules: ['Talos Intelligence'], cleanRule: 'unless-malicious' as const, clock: new FakeClock('2024-06-01T00:00:00Z') };

describe('investigateText', () => {
  it('turns a sighted hash into one IncomingSighting for the target, with the target time', async () => {
    const xdr = fakeXdr({
      verdicts: [{ observable: sha(HASH), module: 'AMP File Reputation', disposition: 2 }],
      sightings: [sightingOn('Secure Endpoint', sha(HASH), endpoint('DESKTOP-AU3IP5K', '2024-05-10T08:12:03.000Z'), { source_uri: 'https://console/x' })],
    });
    const { sightings, stats } = await investigateText({ ...base, text: `New loader ${HASH} seen`, xdr });
    expect(sightings).toHaveLength(1);
    const s = sightings[0]!;
    expect(s.ioc).toEqual(sha(HASH));
    expect(s.target.observables[0]).toEqual({ type: 'hostname', value: 'DESKTOP-AU3IP5K' });
    expect(s.observedAt).toBe('2024-05-10T08:12:03.000Z');
    expect(s.source).toBe('Secure Endpoint via rss:https://blog.example/feed');
    expect(s.dedupeKey).toMatch(new RegExp(`^Secure Endpoint\\|[0-9a-f]{32}\\|hostname:desktop-au3ip5k\\|sha256:${HASH}$`));
    expect(s.ctim).not.toHaveProperty('id');
    expect(s.ctim?.source).toBe(`Secure Endpoint${OWN_SOURCE_SUFFIX}`);
    expect(isOwnSighting(s.ctim?.source as string)).toBe(true);
    expect(stats).toMatchObject({ extracted: 1, clean: 0, investigated: 1, moduleSightings: 1 });
  });

  it('gives the same dedupe key when XDR mints a new transient id', async () => {
    const world = { sightings: [sightingOn('Secure Endpoint', sha(HASH), endpoint('host-a', '2024-05-10T08:12:03.000Z'))] };
    const first = await investigateText({ ...base, text: HASH, xdr: fakeXdr(world) });
    const second = await investigateText({ ...base, text: `again ${HASH}`, xdr: fakeXdr(world) });
    expect(first.sightings[0]!.dedupeKey).toBe(second.sightings[0]!.dedupeKey);
  });

  it('uses a persisted sighting id in the key when there is one', async () => {
    const xdr = fakeXdr({ sightings: [{ ...sightingOn('Secure Endpoint', sha(HASH), endpoint('host-a', '2024-05-10T08:00:00Z')) }] });
    xdr.observe = async () => ({ sightings: [sightingOn('Secure Endpoint', sha(HASH), endpoint('host-a', '2024-05-10T08:00:00Z'), { id: 'https://x/ctia/sighting/sighting-1' })], errors: [], calls: 1 });
    const { sightings } = await investigateText({ ...base, text: HASH, xdr });
    expect(sightings[0]!.dedupeKey).toBe(`Secure Endpoint|https://x/ctia/sighting/sighting-1|hostname:host-a|sha256:${HASH}`);
  });

  it('drops Clean observables before observe, by the configured rule', async () => {
    const world = {
      verdicts: [
        { observable: { type: 'domain', value: 'cisco.com' }, module: 'Talos Intelligence', disposition: 1 as const },
        { observable: sha(HASH), module: 'Talos Intelligence', disposition: 1 as const },
        { observable: sha(HASH), module: 'AMP File Reputation', disposition: 2 as const },
      ],
    };
    const lenient = fakeXdr(world);
    const r1 = await investigateText({ ...base, text: `cisco.com ${HASH}`, xdr: lenient });
    expect(lenient.calls.observe).toEqual([[sha(HASH)]]);
    expect(r1.stats.clean).toBe(1);

    const strict = fakeXdr(world);
    const r2 = await investigateText({ ...base, cleanRule: 'any', text: `cisco.com ${HASH}`, xdr: strict });
    expect(strict.calls.observe).toEqual([]);
    expect(r2.stats).toMatchObject({ clean: 2, investigated: 0 });
  });

  it('skips threat-intel modules, targetless and own (Sightline) sightings', async () => {
    const target = endpoint('host-a', '2024-05-10T08:00:00Z');
    const xdr = fakeXdr({
      sightings: [
        sightingOn('Talos Intelligence', sha(HASH), target),
        sightingOn('Private Intelligence', sha(HASH), target, { source: `Secure Endpoint${OWN_SOURCE_SUFFIX}` }),
        sightingOn('Talos Blog', sha(HASH), undefined),
      ],
    });
    const { sightings, stats } = await investigateText({ ...base, text: HASH, xdr });
    expect(sightings).toEqual([]);
    expect(stats.skipped).toMatchObject({ 'excluded module': 1, 'created by Sightline': 1, 'no targets': 1 });
  });

  it('makes no XDR call when the text holds no indicator', async () => {
    const xdr = fakeXdr({});
    const { sightings } = await investigateText({ ...base, text: 'Nothing to see here, e.g. version 1.2.3.', xdr });
    expect(sightings).toEqual([]);
    expect(xdr.calls.deliberate).toEqual([]);
  });

  it('matches sightings to the indicator they name, and counts the rest as unmatched', async () => {
    const xdr = fakeXdr({
      sightings: [
        sightingOn('Secure Endpoint', sha(HASH), endpoint('host-a', '2024-05-10T08:00:00Z')),
        sightingOn('Secure Endpoint', sha(OTHER_HASH), endpoint('host-b', '2024-05-11T08:00:00Z')),
      ],
    });
    xdr.observe = async () => ({
      sightings: [
        sightingOn('Secure Endpoint', sha(HASH), endpoint('host-a', '2024-05-10T08:00:00Z')),
        sightingOn('Secure Endpoint', { type: 'file_name', value: 'x.exe' }, endpoint('host-c', '2024-05-12T08:00:00Z')),
      ],
      errors: [],
      calls: 1,
    });
    const { sightings, stats } = await investigateText({ ...base, text: `${HASH} ${OTHER_HASH}`, xdr });
    expect(sightings.map((s) => s.ioc.value)).toEqual([HASH]);
    expect(stats.unmatched).toBe(1);
  });

  it('merges IROH inspect results when asked to', async () => {
    const xdr = fakeXdr({ inspect: () => [{ type: 'file_path', value: 'C:\\evil\\x.exe' }, sha(HASH)] });
    const { stats } = await investigateText({ ...base, useInspect: true, text: `drops ${HASH}`, xdr });
    expect(xdr.calls.inspect).toHaveLength(1);
    expect(xdr.calls.deliberate[0]).toEqual([sha(HASH), { type: 'file_path', value: 'C:\\evil\\x.exe' }]);
    expect(stats.extracted).toBe(2);
  });
});

describe('isClean', () => {
  const o = sha(HASH);
  const v = (module: string, disposition: 1 | 2 | 5) => ({ observable: o, module, disposition });
  it('applies both rules', () => {
    expect(isClean(o, [v('a', 1), v('b', 2)], 'any')).toBe(true);
    expect(isClean(o, [v('a', 1), v('b', 2)], 'unless-malicious')).toBe(false);
    expect(isClean(o, [v('a', 1), v('b', 5)], 'unless-malicious')).toBe(true);
    expect(isClean(o, [], 'any')).toBe(false);
  });
});

describe('chunkText', () => {
  it('splits at spaces and keeps every word', () => {
    const text = Array.from({ length: 500 }, (_, i) => `word${i}`).join(' ');
    const chunks = chunkText(text, 100);
    expect(chunks.every((c) => c.length <= 100)).toBe(true);
    expect(chunks.join(' ').split(' ')).toEqual(text.split(' '));
  });
});
