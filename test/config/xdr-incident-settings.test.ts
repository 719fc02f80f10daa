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

describe('issue 18 settings', () => {
  it('defaults: incidents through IROH private-intel, hunts file casebooks, the documented severity rule', () => {
    const c = loadConfig(minimal);
    expect(c.xdr.incidentApi).toBe('private-intel');
    expect(c.huntXdrOutput).toBe('casebook');
    expect(c.correlation.xdrSeverity).toBe('1 -> Low; 2 -> Medium; 3 -> High; mention -> High; respond -> Critical');
  });

  it('takes the other values', () => {
    const c = loadConfig({ ...minimal, XDR_INCIDENT_API: 'ctia', HUNT_XDR_OUTPUT: 'both', XDR_INCIDENT_SEVERITY: '1 -> Medium' });
    expect([c.xdr.incidentApi, c.huntXdrOutput, c.correlation.xdrSeverity]).toEqual(['ctia', 'both', '1 -> Medium']);
  });

  it('lists every bad value at start, naming the variable', () => {
    const problems = problemsOf({ ...minimal, XDR_INCIDENT_API: 'conure', HUNT_XDR_OUTPUT: 'investigation' });
    expect(problems.join('\n')).toMatch(/XDR_INCIDENT_API must be private-intel or ctia/);
    expect(problems.join('\n')).toMatch(/HUNT_XDR_OUTPUT must be casebook, incident or both/);
    expect(problemsOf({ ...minimal, XDR_INCIDENT_SEVERITY: '3 -> Severe' })).toEqual([expect.stringContaining('XDR_INCIDENT_SEVERITY entry "3 -> Severe"')]);
  });
});
