import { describe, expect, it } from 'vitest';
import { contentKey, normaliseIoc, parseSightingsBody, toIsoTime } from '../../../../src/transport/http/sightings/schemas.js';
import { targetIdentity } from '../../../../src/domain/investigate/target-identity.js';
import { ampSighting, modulePayload } from './helpers.js';

describe('parseSightingsBody: the 7-field module payload', () => {
  it('turns the seed payload into one IncomingSighting keyed by hostname, observed at target_observed_time', () => {
    const { items, problems, itemCount } = parseSightingsBody(modulePayload({ target_observed_time: '2022-02-07T17:18:28+00:00' }));
    expect(problems).toEqual([]);
    expect(itemCount).toBe(1);
    expect(items).toHaveLength(1);
    const item = items[0]!;
    expect(targetIdentity(item.target).key).toBe('hostname:heimdallr');
    expect(item.ioc).toEqual({ type: 'url', value: 'https://ictoms.site/ictom.zip' });
    expect(item.source).toBe('AMP for Endpoints');
    expect(item.observedAt).toBe('2022-02-07T17:18:28.000Z');
    expect(item.ctim).toMatchObject({ sensor: 'endpoint', tlp: 'amber' });
    expect(item.ctim).not.toHaveProperty('id');
    expect(item.dedupeKey).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('uses the whole matching CTIM target, so an ip-named target still resolves to its hostname', () => {
    const { items } = parseSightingsBody(modulePayload({ target_type: 'ip', target_value: '192.168.70.220' }));
    expect(targetIdentity(items[0]!.target).key).toBe('hostname:heimdallr');
  });

  it('builds an endpoint target from target_type/value when sighting_json is absent', () => {
    const { items, problems } = parseSightingsBody(modulePayload({ sighting_json: undefined, target_type: 'mac_address', target_value: '00-0C-29-0F-6F-0A' }));
    expect(problems).toEqual([]);
    expect(items[0]!.target).toEqual({ type: 'endpoint', observables: [{ type: 'mac_address', value: '00-0C-29-0F-6F-0A' }] });
    expect(targetIdentity(items[0]!.target).key).toBe('mac_address:00:0c:29:0f:6f:0a');
    expect(items[0]!.ctim).toBeUndefined();
  });

  it('drops the id of the inner sighting', () => {
    const { items } = parseSightingsBody(modulePayload({ sighting_json: JSON.stringify(ampSighting({ id: 'sighting-1' })) }));
    expect(items[0]!.ctim).not.toHaveProperty('id');
  });

  it('reports bad inner JSON as a problem on sighting_json', () => {
    const { items, problems } = parseSightingsBody(modulePayload({ sighting_json: '{"targets": [' }));
    expect(items).toEqual([]);
    expect(problems).toEqual([{ index: 0, field: 'sighting_json', reason: expect.stringContaining('not valid JSON') }]);
  });

  it('reports an unparseable observed time on target_observed_time, and never uses processing time', () => {
    const { problems } = parseSightingsBody(modulePayload({ target_observed_time: 'yesterday' }));
    expect(problems).toEqual([{ index: 0, field: 'target_observed_time', reason: expect.stringContaining('ISO-8601') }]);
  });

  it('names each missing field', () => {
    const { problems } = parseSightingsBody({ target_value: 'x', sighting_json: '{}' });
    expect(problems.map((p) => p.field).sort()).toEqual(['event_source', 'ioc_type', 'ioc_value', 'target_type']);
    expect(problems.every((p) => p.reason === 'is required')).toBe(true);
  });

  it('uses the sender id as the dedupe key', () => {
    const { items } = parseSightingsBody(modulePayload({ id: 'delivery-42' }));
    expect(items[0]!.dedupeKey).toBe('delivery-42');
  });
});

describe('parseSightingsBody: structured CTIM sightings', () => {
  it('picks the hostname among four target observables', () => {
    const { items, problems } = parseSightingsBody(ampSighting());
    expect(problems).toEqual([]);
    expect(items).toHaveLength(1);
    expect(targetIdentity(items[0]!.target).key).toBe('hostname:heimdallr');
    expect(items[0]!.source).toBe('AMP Event - sxo-sighting');
    expect(items[0]!.observedAt).toBe('2022-02-07T17:18:28.000Z');
  });

  it('normalises a MAC-only target', () => {
    const s = ampSighting({ targets: [{ type: 'endpoint', observables: [{ type: 'mac_address', value: '000C.290F.6F0A' }] }] });
    const { items } = parseSightingsBody(s);
    expect(targetIdentity(items[0]!.target).key).toBe('mac_address:00:0c:29:0f:6f:0a');
    expect(items[0]!.observedAt).toBe('2022-02-07T17:18:28.000Z');
  });

  it('expands targets × observables into one item each, with distinct keys', () => {
    const s = ampSighting({
      id: 'sighting-abc',
      targets: [
        { type: 'endpoint', observables: [{ type: 'hostname', value: 'a.example' }], observed_time: { start_time: '2022-02-08T00:00:00Z' } },
        { type: 'endpoint', observables: [{ type: 'ip', value: '10.0.0.7' }] },
      ],
      observables: [
        { type: 'domain', value: 'evil[.]example' },
        { type: 'sha256', value: 'A'.repeat(64) },
      ],
    });
    const { items } = parseSightingsBody(s);
    expect(items.map((i) => `${targetIdentity(i.target).key} ${i.ioc.type}:${i.ioc.value} ${i.observedAt}`)).toEqual([
      `hostname:a.example domain:evil.example 2022-02-08T00:00:00.000Z`,
      `hostname:a.example sha256:${'a'.repeat(64)} 2022-02-08T00:00:00.000Z`,
      `ip:10.0.0.7 domain:evil.example 2022-02-07T17:18:28.000Z`,
      `ip:10.0.0.7 sha256:${'a'.repeat(64)} 2022-02-07T17:18:28.000Z`,
    ]);
    expect(new Set(items.map((i) => i.dedupeKey)).size).toBe(4);
    expect(items.every((i) => i.dedupeKey.startsWith('sighting-abc#'))).toBe(true);
  });

  it('keeps a single-pair sighting id verbatim, else the first external id', () => {
    expect(parseSightingsBody(ampSighting({ id: 'sighting-1' })).items[0]!.dedupeKey).toBe('sighting-1');
    expect(parseSightingsBody(ampSighting({ external_ids: ['amp-event-9'] })).items[0]!.dedupeKey).toBe('amp-event-9');
  });

  it('refuses a sighting without any observed time, naming the field', () => {
    const s = ampSighting({ observed_time: undefined, targets: [{ type: 'endpoint', observables: [{ type: 'hostname', value: 'h' }] }] });
    expect(parseSightingsBody(s).problems).toEqual([{ index: 0, field: 'observed_time.start_time', reason: expect.stringContaining('missing') }]);
  });

  it('refuses a target with no usable observable and an empty target list', () => {
    expect(parseSightingsBody(ampSighting({ targets: [{ type: 'endpoint', observables: [{ type: 'hostname', value: ' ' }] }] })).problems[0]!.field).toBe(
      'targets[0].observables',
    );
    expect(parseSightingsBody(ampSighting({ targets: [] })).problems[0]!.field).toBe('targets');
  });

  it('refuses bad IOCs with the observable path', () => {
    const control = parseSightingsBody(ampSighting({ observables: [{ type: 'url', value: 'http://a\u0007b' }] }));
    expect(control.problems).toEqual([{ index: 0, field: 'observables[0].value', reason: 'contains control characters' }]);
    const long = parseSightingsBody(ampSighting({ observables: [{ type: 'url', value: `http://x/${'a'.repeat(2050)}` }] }));
    expect(long.problems[0]!.reason).toContain('2048');
  });
});

describe('parseSightingsBody: arrays', () => {
  it('keeps good items and reports bad ones by index', () => {
    const { items, problems, itemCount } = parseSightingsBody([modulePayload(), modulePayload({ ioc_value: '   ' }), ampSighting(), 42]);
    expect(itemCount).toBe(4);
    expect(items).toHaveLength(2);
    expect(problems).toEqual([
      { index: 1, field: 'ioc_value', reason: 'is empty' },
      { index: 3, field: '(item)', reason: expect.stringContaining('JSON object') },
    ]);
  });
});

describe('helpers', () => {
  it('normaliseIoc refangs network values and lower-cases hashes', () => {
    expect(normaliseIoc('URL', ' hxxps://evil[.]example/a ')).toEqual({ type: 'url', value: 'https://evil.example/a' });
    expect(normaliseIoc('md5', 'ABCDEF0123456789ABCDEF0123456789')).toEqual({ type: 'md5', value: 'abcdef0123456789abcdef0123456789' });
    expect(normaliseIoc('bad type!', 'x')).toEqual({ field: 'type', reason: expect.any(String) });
  });

  it('toIsoTime reads zone-less times as UTC and refuses non-ISO text', () => {
    expect(toIsoTime('2022-02-07T17:18:28')).toBe('2022-02-07T17:18:28.000Z');
    expect(toIsoTime('2022-02-07 17:18:28+01:00')).toBe('2022-02-07T16:18:28.000Z');
    expect(toIsoTime('2022-02-07')).toBe('2022-02-07T00:00:00.000Z');
    expect(toIsoTime('1')).toBeUndefined();
    expect(toIsoTime('2022-13-45T00:00:00Z')).toBeUndefined();
  });

  it('contentKey is stable and sensitive to each part', () => {
    const ioc = { type: 'url', value: 'https://a.example/' };
    const base = contentKey('hostname:h', ioc, 'src', '2022-01-01T00:00:00.000Z');
    expect(contentKey('hostname:h', ioc, 'src', '2022-01-01T00:00:00.000Z')).toBe(base);
    expect(contentKey('hostname:h', ioc, 'other', '2022-01-01T00:00:00.000Z')).not.toBe(base);
    expect(contentKey('hostname:h', ioc, 'src', '2022-01-01T00:00:01.000Z')).not.toBe(base);
  });

  // Keys are stored (the journal's dedupe index, XDR's external ids): an upgrade that changed how they are
  // computed would take every redelivery after it as new. These are the values earlier versions wrote.
  it('computes the same content and pair keys as earlier versions', () => {
    expect(contentKey('hostname:h', { type: 'url', value: 'https://a.example/' }, 'src', '2022-01-01T00:00:00.000Z')).toBe(
      'sha256:d8e687d53583516f0ef19dbe493fdde3488a854e4c3824461c1bb1167a701400',
    );
    const { items } = parseSightingsBody({
      external_ids: ['ext-9'],
      observed_time: { start_time: '2022-01-01T00:00:00.000Z' },
      targets: [{ type: 'endpoint', observables: [{ type: 'hostname', value: 'h1' }] }],
      observables: [
        { type: 'domain', value: 'a.example' },
        { type: 'domain', value: 'b.example' },
      ],
    });
    expect(items.map((i) => i.dedupeKey)).toEqual(['ext-9#33c7e454bc0a093517b8ad03e8cc863b', 'ext-9#8a1ac1e63239ba21249ed1c2a16a699f']);
  });
});
