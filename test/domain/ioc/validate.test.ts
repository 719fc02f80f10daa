import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cidrTooLargeReason, classifyIndicator, expandCidr, REASONS } from '../../../src/domain/ioc/validate.js';

const SHA256 = 'a'.repeat(32) + '0123456789abcdef'.repeat(2);

describe('classifyIndicator with a hint', () => {
  it('accepts a defanged domain and lower-cases it', () => {
    expect(classifyIndicator('007DHL[.]free3v[.]net', 'domain')).toEqual({ ok: true, observable: { type: 'domain', value: '007dhl.free3v.net' } });
  });

  it('turns a defanged IPv4 written as a host into an ip observable', () => {
    expect(classifyIndicator('178[.]62[.]189[.]175', 'domain')).toEqual({ ok: true, observable: { type: 'ip', value: '178.62.189.175' } });
  });

  it.each(['localhost', '0', 'ok', 'install', 'fe', '17'])('rejects the single-label sandbox host %s', (host) => {
    expect(classifyIndicator(host, 'domain')).toEqual({ ok: false, reason: REASONS.singleLabel });
  });

  it.each([
    ['[240e', REASONS.hostChars],
    ['evil..com', REASONS.labelShape],
    ['-evil.com', REASONS.labelShape],
    ['evil.123', REASONS.numericTld],
    [`${'a'.repeat(64)}.com`, REASONS.labelShape],
    [`${'a.'.repeat(130)}com`, REASONS.hostLength],
    ['', REASONS.empty],
  ])('rejects the host %s with "%s"', (host, reason) => {
    expect(classifyIndicator(host, 'domain')).toEqual({ ok: false, reason });
  });

  it('accepts punycode top-level labels and a trailing root dot', () => {
    expect(classifyIndicator('example.xn--p1ai', 'domain')).toMatchObject({ ok: true });
    expect(classifyIndicator('example.com.', 'domain')).toEqual({ ok: true, observable: { type: 'domain', value: 'example.com' } });
  });

  it('validates IPv4 strictly and keeps private addresses (a hunt policy, not a parsing one)', () => {
    expect(classifyIndicator('10[.]0[.]0[.]1', 'ip')).toEqual({ ok: true, observable: { type: 'ip', value: '10.0.0.1' } });
    expect(classifyIndicator('999.1.1.1', 'ip')).toEqual({ ok: false, reason: REASONS.ipv4 });
    expect(classifyIndicator('::1', 'ip')).toEqual({ ok: false, reason: REASONS.ipv4 });
  });

  it('validates SHA-256 and normalises case', () => {
    expect(classifyIndicator(SHA256.toUpperCase(), 'sha256')).toEqual({ ok: true, observable: { type: 'sha256', value: SHA256 } });
    expect(classifyIndicator(SHA256.slice(1), 'sha256')).toEqual({ ok: false, reason: REASONS.sha256 });
    expect(classifyIndicator(`${SHA256.slice(1)}g`, 'sha256')).toEqual({ ok: false, reason: REASONS.sha256 });
  });

  it('accepts only http(s) URLs', () => {
    expect(classifyIndicator('hxxps://evil[.]com/x', 'url')).toEqual({ ok: true, observable: { type: 'url', value: 'https://evil.com/x' } });
    expect(classifyIndicator('ftp://evil.com/x', 'url')).toEqual({ ok: false, reason: REASONS.url });
  });
});

describe('classifyIndicator without a hint', () => {
  it.each([
    ['d41d8cd98f00b204e9800998ecf8427e', 'md5'],
    ['da39a3ee5e6b4b0d3255bfef95601890afd80709', 'sha1'],
    [SHA256, 'sha256'],
    ['1.2.3.4', 'ip'],
    ['2001:db8::1', 'ipv6'],
    ['hxxp://evil[.]com', 'url'],
    ['evil[.]com', 'domain'],
  ])('%s is a %s', (value, type) => {
    expect(classifyIndicator(value)).toMatchObject({ ok: true, observable: { type } });
  });

  it('never throws and always returns an observable or a reason', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const r = classifyIndicator(s);
        return r.ok ? r.observable.value.length > 0 : r.reason.length > 0;
      }),
    );
  });
});

describe('expandCidr', () => {
  it('expands a /31 to both addresses, from the network address', () => {
    expect(expandCidr('211.231.108.47', 31, 4)).toEqual({ addresses: ['211.231.108.46', '211.231.108.47'], size: 2, expanded: true });
  });

  it('expands a /30 at the limit and a /32 to itself', () => {
    expect(expandCidr('172.217.197.100', 30, 4)?.addresses).toEqual(['172.217.197.100', '172.217.197.101', '172.217.197.102', '172.217.197.103']);
    expect(expandCidr('1.2.3.4', 32, 4)?.addresses).toEqual(['1.2.3.4']);
  });

  it('keeps only the written address for a range above the limit', () => {
    expect(expandCidr('94.23.172.0', 22, 4)).toEqual({ addresses: ['94.23.172.0'], size: 1024, expanded: false });
    expect(cidrTooLargeReason(22, 1024)).toBe('CIDR range /22 too large to expand (1024 addresses); base address kept');
  });

  it('handles the top of the address space without sign overflow', () => {
    expect(expandCidr('255.255.255.254', 31, 4)?.addresses).toEqual(['255.255.255.254', '255.255.255.255']);
  });

  it('refuses a bad address or prefix', () => {
    expect(expandCidr('1.2.3', 24, 4)).toBeUndefined();
    expect(expandCidr('1.2.3.4', 33, 4)).toBeUndefined();
  });
});
