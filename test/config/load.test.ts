import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';

const minimal = { XDR_CLIENT_ID: 'client-123', XDR_CLIENT_PASSWORD: 'secret-password' };

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig(minimal);
    expect(c.talos.urlTemplate).toBe('https://raw.githubusercontent.com/Cisco-Talos/Threat-Round-Up/master/{yyyy}/{mmdd}.json');
    expect(c.talos.retryIntervalSeconds).toBe(3600);
    expect(c.talos.maxRetryIterations).toBe(24);
    expect(c.schedule).toEqual({ cron: '0 18 * * 5', timezone: 'America/New_York', runMissedOnStart: true });
    expect(c.xdr.tokenUrl).toBe('https://visibility.amp.cisco.com/iroh/oauth2/token');
    expect(c.xdr.ctiaBase).toBe('https://private.intel.amp.cisco.com/ctia');
    expect(c.webex.huntRoom).toBe('TALOS ROUNDUP Investigation');
    expect(c.webex.enabled).toBe(false);
    expect(c.email.enabled).toBe(false);
  });

  it('derives regional XDR hosts and lets each host be overridden', () => {
    const eu = loadConfig({ ...minimal, XDR_REGION: 'eu' });
    expect(eu.xdr.irohBase).toBe('https://visibility.eu.amp.cisco.com/iroh');
    expect(eu.xdr.ctiaBase).toBe('https://private.intel.eu.amp.cisco.com/ctia');
    const local = loadConfig({ ...minimal, XDR_IROH_BASE: 'http://127.0.0.1:9000/iroh/' });
    expect(local.xdr.irohBase).toBe('http://127.0.0.1:9000/iroh');
  });

  it('lists every problem at once, each naming its variable', () => {
    const problems = problemsOf({ XDR_REGION: 'mars', HTTP_PORT: 'eighty', EMAIL_TO: 'not-an-email', TALOS_MAX_RETRY_ITERATIONS: '-1' });
    const text = problems.join('\n');
    for (const name of ['XDR_CLIENT_ID', 'XDR_CLIENT_PASSWORD', 'XDR_REGION', 'HTTP_PORT', 'EMAIL_TO', 'TALOS_MAX_RETRY_ITERATIONS']) {
      expect(text).toContain(name);
    }
    expect(problems.length).toBeGreaterThanOrEqual(6);
  });

  it('requires a webhook secret and public URL in Webex webhook mode', () => {
    const problems = problemsOf({ ...minimal, WEBEX_TOKEN: 'tok', WEBEX_MODE: 'webhook' });
    expect(problems.join('\n')).toMatch(/PUBLIC_URL/);
    expect(problems.join('\n')).toMatch(/WEBEX_WEBHOOK_SECRET/);
  });

  it('turns e-mail on only with an SMTP host and insists on recipients', () => {
    expect(problemsOf({ ...minimal, SMTP_HOST: 'mail.local' }).join()).toMatch(/EMAIL_TO/);
    const c = loadConfig({ ...minimal, SMTP_HOST: 'mail.local', EMAIL_TO: 'soc@example.com, lead@example.com' });
    expect(c.email.enabled).toBe(true);
    expect(c.email.to).toEqual(['soc@example.com', 'lead@example.com']);
  });

  it('never puts a secret value into an error message', () => {
    try {
      loadConfig({ XDR_CLIENT_ID: 'id', XDR_CLIENT_PASSWORD: 'hunter2-super-secret', SIGHTINGS_HMAC_SECRET: 'short' });
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2-super-secret');
      expect((err as Error).message).toContain('SIGHTINGS_HMAC_SECRET');
      return;
    }
    throw new Error('expected a ConfigError');
  });
});
