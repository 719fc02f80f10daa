import { describe, expect, it } from 'vitest';
import {
  hasCredentials,
  signSightingsBody,
  sightingsAuthEnabled,
  verifySightingsRequest,
} from '../../../../src/transport/http/sightings/auth.js';

const secret = 'hmac-secret-0123456789';
const token = 'bearer-token-0123456789';
const body = Buffer.from('{"a":1}');
const now = new Date('2024-05-01T12:00:00Z');
const ts = Math.floor(now.getTime() / 1000);

describe('sightings auth', () => {
  it('signs `<timestamp>.<body>` with HMAC-SHA256 (known vector)', () => {
    // printf '1714564800.{"a":1}' | openssl dgst -sha256 -hmac hmac-secret-0123456789
    expect(signSightingsBody(secret, body, ts)).toBe('sha256=be0588a2e8ef7a84cd6e2b0e7d1b0742be651e6f43534f8e215311df6f2fb508');
    expect(signSightingsBody(secret, '{"a":1}', ts)).toBe(signSightingsBody(secret, body, ts));
  });

  it('accepts a fresh signature and refuses one outside five minutes either way', () => {
    const signature = signSightingsBody(secret, body, ts);
    expect(verifySightingsRequest({ hmacSecret: secret }, { signature, timestamp: String(ts) }, body, now)).toEqual({ ok: true, method: 'hmac' });
    const at = (offsetS: number) => new Date(now.getTime() + offsetS * 1000);
    expect(verifySightingsRequest({ hmacSecret: secret }, { signature, timestamp: String(ts) }, body, at(299)).ok).toBe(true);
    expect(verifySightingsRequest({ hmacSecret: secret }, { signature, timestamp: String(ts) }, body, at(301)).ok).toBe(false);
    expect(verifySightingsRequest({ hmacSecret: secret }, { signature, timestamp: String(ts) }, body, at(-301)).ok).toBe(false);
  });

  it('binds the timestamp into the MAC', () => {
    const signature = signSightingsBody(secret, body, ts);
    const result = verifySightingsRequest({ hmacSecret: secret }, { signature, timestamp: String(ts + 1) }, body, now);
    expect(result).toEqual({ ok: false, reason: expect.stringContaining('does not match') });
  });

  it('refuses malformed signature headers without throwing', () => {
    for (const signature of ['sha256=zz', 'md5=abc', 'sha256=' + 'a'.repeat(63), '']) {
      expect(verifySightingsRequest({ hmacSecret: secret }, { signature, timestamp: String(ts) }, body, now).ok).toBe(false);
    }
  });

  it('checks bearer tokens of any length without throwing', () => {
    const cfg = { bearerToken: token };
    expect(verifySightingsRequest(cfg, { authorization: `Bearer ${token}` }, body, now)).toEqual({ ok: true, method: 'bearer' });
    expect(verifySightingsRequest(cfg, { authorization: 'Bearer x' }, body, now).ok).toBe(false);
    expect(verifySightingsRequest(cfg, { authorization: `Bearer ${token}extra` }, body, now).ok).toBe(false);
    expect(verifySightingsRequest(cfg, { authorization: `Basic ${token}` }, body, now).ok).toBe(false);
  });

  it('accepts either method when both are configured, and names both when nothing is sent', () => {
    const cfg = { hmacSecret: secret, bearerToken: token };
    expect(verifySightingsRequest(cfg, { authorization: `Bearer ${token}` }, body, now).ok).toBe(true);
    const missing = verifySightingsRequest(cfg, {}, body, now);
    expect(missing).toEqual({ ok: false, reason: expect.stringMatching(/X-Sightline-Signature.*Bearer/) });
    expect(hasCredentials(cfg, {})).toBe(false);
    expect(hasCredentials({ hmacSecret: secret }, { authorization: `Bearer ${token}` })).toBe(false);
  });

  it('is disabled only when neither secret nor token is set', () => {
    expect(sightingsAuthEnabled({})).toBe(false);
    expect(sightingsAuthEnabled({ bearerToken: token })).toBe(true);
    expect(sightingsAuthEnabled({ hmacSecret: secret })).toBe(true);
  });
});
