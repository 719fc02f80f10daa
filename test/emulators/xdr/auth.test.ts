import { afterEach, describe, expect, it } from 'vitest';
import type { XdrEmulator } from '../../../src/emulators/xdr/index.js';
import { api, getToken, startEmulator, tokenRequest } from './helpers.js';

let emu: XdrEmulator;
afterEach(() => emu?.stop());

describe('XDR emulator auth', () => {
  it('issues a bearer token for the right Basic credentials', async () => {
    emu = await startEmulator({ clientId: 'client-a', clientPassword: 'pw-a', tokenExpiresInSeconds: 120 });
    const res = await tokenRequest(emu, 'client-a', 'pw-a');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ token_type: 'bearer', expires_in: 120, access_token: expect.stringMatching(/^eyJ/) });
  });

  it('answers 401 invalid_client for wrong credentials and 400 for another grant', async () => {
    emu = await startEmulator({ clientId: 'client-a', clientPassword: 'pw-a' });
    const wrong = await tokenRequest(emu, 'client-a', 'nope');
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_client' });
    const grant = await tokenRequest(emu, 'client-a', 'pw-a', 'grant_type=password');
    expect(grant.status).toBe(400);
  });

  it('refuses API calls without a JWT, with IROH error body', async () => {
    emu = await startEmulator();
    const res = await fetch(`${emu.url}/iroh/iroh-enrich/deliberate/observables`, { method: 'POST', body: '[]' });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'invalid_request', error_description: 'No JWT found in HTTP Authorization header' });
  });

  it('refuses expired and unknown tokens', async () => {
    let now = Date.parse('2024-05-10T08:00:00Z');
    emu = await startEmulator({ tokenExpiresInSeconds: 600, now: () => new Date(now) });
    const token = await getToken(emu);
    expect((await api(emu, 'GET', '/ctia/incident/search', undefined, token)).status).toBe(200);
    now += 600_000;
    expect((await api(emu, 'GET', '/ctia/incident/search', undefined, token)).status).toBe(401);
    expect((await api(emu, 'GET', '/ctia/incident/search', undefined, 'made-up')).status).toBe(401);
  });
});
