import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../src/core/errors.js';
import { CONTEXT_REASONS } from '../../../src/domain/talos/ioc-collector.js';
import { parsePattern } from '../../../src/domain/talos/stix-pattern.js';
import { parseStix2Bundle } from '../../../src/domain/talos/stix2-bundle.js';

const bundle = (...patterns: string[]) => ({
  type: 'bundle',
  objects: patterns.map((pattern) => ({ type: 'indicator', pattern })),
});

describe('STIX pattern grammar', () => {
  it('reads a compound dst_ref pair as two comparisons of one observation', () => {
    expect(parsePattern("[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '1.2.3.4']")).toEqual([
      {
        comparisons: [
          { path: 'network-traffic:dst_ref.type', op: '=', negated: false, values: ['ipv4-addr'] },
          { path: 'network-traffic:dst_ref.value', op: '=', negated: false, values: ['1.2.3.4'] },
        ],
      },
    ]);
  });

  it('reads OR, parentheses, IN sets, escaped quotes, quoted path parts and qualifiers', () => {
    const obs = parsePattern(
      "([file:hashes.'SHA-256' = 'aa' OR (file:name = 'it\\'s.exe')] AND [domain-name:value IN ('a.example', 'b.example')]) WITHIN 300 SECONDS",
    );
    expect(obs.flatMap((o) => o.comparisons.map((c) => [c.path, c.values]))).toEqual([
      ["file:hashes.'SHA-256'", ['aa']],
      ['file:name', ["it's.exe"]],
      ['domain-name:value', ['a.example', 'b.example']],
    ]);
  });

  it('refuses a malformed pattern with a ValidationError', () => {
    expect(() => parsePattern("[url:value = 'x'")).toThrow(ValidationError);
    expect(() => parsePattern("[url:value ~ 'x']")).toThrow(ValidationError);
  });
});

describe('STIX 2 bundle values', () => {
  it('maps every comparison these files use to an observable or to context with a reason', () => {
    const r = parseStix2Bundle(
      bundle(
        "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '192.0.2.1']",
        "[network-traffic:src_ref.type = 'ipv6-addr' AND network-traffic:src_ref.value = '2001:DB8::1']",
        "[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'c2.example'] OR [network-traffic:dst_port = 8443]",
        `[file:hashes.SHA256 = '${'A'.repeat(64)}' OR file:hashes.MD5 = '${'b'.repeat(32)}' OR file:hashes.SHA1 = '${'c'.repeat(40)}']`,
        "[url:value = 'hxxp://evil[.]example/x'] AND [domain-name:value = 'evil.example']",
        "[email-message:from_ref.value = 'bad@evil.example']",
        "[file:name = 'setup.exe'] AND [mutex:name = 'Global\\\\m'] AND [windows-registry-key:key = 'HKCU\\\\Run']",
        "[file:x_misp_filename = 'x'] AND [file:size = 12]",
        "[url:value != 'https://good.example/']",
        'not a pattern [',
      ),
      'b.json',
    );
    expect(r.tally.observables).toEqual({ ip: 1, ipv6: 1, domain: 2, sha256: 1, md5: 1, sha1: 1, url: 1, email: 1 });
    expect(r.observables).toContainEqual({ type: 'ipv6', value: '2001:db8::1' });
    expect(r.observables).toContainEqual({ type: 'url', value: 'http://evil.example/x' });
    expect(r.tally.context).toMatchObject({
      [CONTEXT_REASONS.port]: 1,
      [CONTEXT_REASONS.fileName]: 1,
      [CONTEXT_REASONS.mutex]: 1,
      [CONTEXT_REASONS.registry]: 1,
      [CONTEXT_REASONS.mispExtension]: 1,
      [CONTEXT_REASONS.otherProperty]: 1,
      [CONTEXT_REASONS.negated]: 1,
    });
    expect(Object.keys(r.tally.context).some((k) => k.startsWith('unreadable STIX pattern'))).toBe(true);
  });
});
