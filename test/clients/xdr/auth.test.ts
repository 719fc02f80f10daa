import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BAD_CREDENTIALS_MESSAGE, XdrTokenProvider } from '../../../src/clients/xdr/auth.js';
import { XdrHttpClient } from '../../../src/clients/xdr/client.js';
import { UpstreamError } from '../../../src/core/errors.js';
import { silentLogger } from '../../../src/core/logger.js';
import type { XdrEmulator } from '../../../src/emulators/xdr/index.js';
import { startEmulator } from '../../emulators/xdr/helpers.js';

const fastRetry = { retry: { retries: 3, minTimeoutMs: 1, maxTimeoutMs: 5 } };
const domain = (value: string) => ({ type: 'domain', value });

describe('XDR token handling', () => {
  let emu: XdrEmulator;
  beforeEach(async () => {
    emu = await startEmulator();
  });
  afterEach(() => emu.stop());

  it('fetches one token for many concurrent requests and reuses it', async () => {
    const client = new XdrHttpClient({ xdr: emu.xdrConfig({ concurrency: 8 }), logger: silentLogger, httpOptions: fastRetry });
    await Promise.all(Array.from({ length: 12 }, (_, i) => client.inspect(`host${i}.example.com`)));
    await client.deliberate([domain('a.example.com')]);
    expect(emu.stats.tokensIssued).toBe(1);
    expect(emu.calls.filter((c) => c.path === '/iroh/oauth2/token')).toHaveLength(1);
  });

  it('renews the token 60 s before it expires', async () => {
    let now = Date.parse('2024-05-10T08:00:00Z');
    const client = new XdrHttpClient({ xdr: emu.xdrConfig(), logger: silentLogger, now: () => now, httpOptions: fastRetry });
    await client.inspect('a.example.com');
    now += 539_000; // 61 s left of 600: still fresh
    await client.inspect('b.example.com');
    expect(emu.stats.tokensIssued).toBe(1);
    now += 2_000; // 59 s left: renew
    await client.inspect('c.example.com');
    expect(emu.stats.tokensIssued).toBe(2);
  });

  it('renews the token and retries once when XDR answers 401', async () => {
    const client = new XdrHttpClient({ xdr: emu.xdrConfig(), logger: silentLogger, httpOptions: fastRetry });
    await client.inspect('a.example.com');
    emu.auth.revokeAll();
    const observables = await client.inspect('b.example.com');
    expect(observables).toEqual([domain('b.example.com')]);
    expect(emu.stats.tokensIssued).toBe(2);
    expect(emu.calls.filter((c) => c.path === '/iroh/iroh-inspect/inspect').map((c) => c.status)).toEqual([200, 401, 200]);
  });

  it('retries a 401 only once, then fails with a sentence', async () => {
    const client = new XdrHttpClient({ xdr: emu.xdrConfig(), logger: silentLogger, httpOptions: fastRetry });
    emu.faults.add({ match: '/iroh/iroh-inspect', status: 401 });
    const err = await client.inspect('a.example.com').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).status).toBe(401);
    expect((err as UpstreamError).userMessage).toMatch(/XDR_CLIENT_ID/);
    expect(emu.calls.filter((c) => c.path === '/iroh/iroh-inspect/inspect')).toHaveLength(2);
  });

  it('turns wrong credentials into a clear UpstreamError without leaking the password', async () => {
    const client = new XdrHttpClient({ xdr: emu.xdrConfig({ clientPassword: 'wrong-secret-value' }), logger: silentLogger, httpOptions: fastRetry });
    const err = await client.deliberate([domain('a.example.com')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).userMessage).toBe(BAD_CREDENTIALS_MESSAGE);
    expect((err as UpstreamError).status).toBe(401);
    expect(String((err as Error).message)).not.toContain('wrong-secret-value');
    expect(emu.calls.filter((c) => c.path.startsWith('/iroh/iroh-enrich'))).toHaveLength(0);
    expect(emu.calls.filter((c) => c.path === '/iroh/oauth2/token')).toHaveLength(1);
  });

  it('retries a failing token endpoint itself, without multiplying retries per API call', async () => {
    emu.faults.add({ match: '/iroh/oauth2/token', status: 503 });
    const client = new XdrHttpClient({ xdr: emu.xdrConfig(), logger: silentLogger, httpOptions: { retry: { retries: 2, minTimeoutMs: 1, maxTimeoutMs: 2 } } });
    await expect(client.inspect('a.example.com')).rejects.toMatchObject({ status: 503 });
    expect(emu.calls.filter((c) => c.path === '/iroh/oauth2/token')).toHaveLength(3);
    expect(emu.calls.filter((c) => c.path === '/iroh/iroh-inspect/inspect')).toHaveLength(0);
  });

  it('shares one in-flight token request between concurrent callers', async () => {
    emu.faults.add({ match: '/iroh/oauth2/token', latencyMs: 50 });
    const provider = new XdrTokenProvider({ tokenUrl: emu.xdrConfig().tokenUrl, clientId: emu.clientId, clientPassword: emu.clientPassword });
    const tokens = await Promise.all(Array.from({ length: 5 }, () => provider.token()));
    expect(new Set(tokens).size).toBe(1);
    expect(provider.requestCount).toBe(1);
    provider.invalidate('some-other-token');
    await provider.token();
    expect(provider.requestCount).toBe(1);
    provider.invalidate(tokens[0]);
    await provider.token();
    expect(provider.requestCount).toBe(2);
  });
});
