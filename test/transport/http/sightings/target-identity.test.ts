import { describe, expect, it } from 'vitest';
import { targetIdentity } from '../../../../src/domain/investigate/target-identity.js';
import { MAX_TARGET_VALUE_LENGTH } from '../../../../src/domain/investigate/target-text.js';
import { incidentTitle } from '../../../../src/domain/correlation/describe.js';
import { validateNew } from '../../../../src/emulators/xdr/ctia-validate.js';
import { parseSightingsBody } from '../../../../src/transport/http/sightings/schemas.js';
import { ampSighting, modulePayload } from './helpers.js';

function withHost(value: string): Record<string, unknown> {
  return ampSighting({
    targets: [{ type: 'endpoint', observed_time: { start_time: '2022-02-07T17:18:28.000Z' }, observables: [{ type: 'hostname', value }] }],
  });
}

describe('target identity at the intake (issue 17 item 7)', () => {
  it.each([
    ['NUL', 'desktop\u0000-1'],
    ['BEL', 'desktop\u0007-1'],
    ['ESC', 'desktop\u001b[31m-1'],
    ['zero-width space', 'desktop\u200b-1'],
    ['zero-width joiner', 'desk\u200dtop-1'],
    ['right-to-left override', 'desktop-1\u202egpj.exe'],
    ['bidi isolate', '\u2066desktop-1'],
    ['BOM', '\ufeffdesktop-1'],
    ['soft hyphen', 'desk\u00adtop-1'],
    ['C1 control', 'desktop\u0085-1'],
    ['Hangul filler', 'desktop\u3164-1'],
  ])('refuses a target with %s, naming the field and the character', (_name, value) => {
    const parsed = parseSightingsBody(withHost(value));
    expect(parsed.items).toEqual([]);
    expect(parsed.problems).toEqual([{ index: 0, field: 'targets[0].observables[0].value', reason: expect.stringMatching(/invisible or control character \(U\+[0-9A-F]{4}\)/) }]);
  });

  it('refuses the same in the module payload target_value', () => {
    const parsed = parseSightingsBody(modulePayload({ target_value: 'heimdallr\u200b' }));
    expect(parsed.problems).toEqual([{ index: 0, field: 'target_value', reason: expect.stringContaining('U+200B') }]);
  });

  it('treats NFKC look-alikes as the same target (fullwidth letters, ligatures)', () => {
    const a = parseSightingsBody(withHost('desktop-1')).items[0]!;
    const b = parseSightingsBody(withHost('ｄｅｓｋｔｏｐ－１')).items[0]!;
    expect(targetIdentity(b.target).key).toBe(targetIdentity(a.target).key);
    expect(targetIdentity({ type: 'endpoint', observables: [{ type: 'hostname', value: 'ﬁle-server' }] }).key).toBe('hostname:file-server');
  });

  it("bounds the value by XDR's incident title limit, refusing longer ones at the door", () => {
    const longest = 'h'.repeat(MAX_TARGET_VALUE_LENGTH);
    expect(validateNew('incident', { title: incidentTitle(longest), status: 'New', confidence: 'High', incident_time: { opened: 'x' } })).toBeUndefined();
    expect(parseSightingsBody(withHost(longest)).items).toHaveLength(1);
    const tooLong = parseSightingsBody(withHost(`${longest}h`));
    expect(tooLong.problems[0]).toMatchObject({ field: 'targets[0].observables[0].value', reason: expect.stringContaining(`longer than ${MAX_TARGET_VALUE_LENGTH}`) });
    expect(parseSightingsBody(withHost('x'.repeat(900_000))).items).toEqual([]);
  });

  it('refuses invisible characters in IOC values too', () => {
    const parsed = parseSightingsBody(ampSighting({ observables: [{ type: 'domain', value: 'evil\u200b.example' }] }));
    expect(parsed.problems[0]).toMatchObject({ field: 'observables[0].value', reason: expect.stringContaining('invisible') });
  });
});
