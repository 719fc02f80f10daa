import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/core/logger.js';
import { runHuntCommand } from '../../src/cli/hunt.js';
import { startWorld, type EmulatedWorld } from '../../src/sandbox/world.js';

describe('sightline hunt', () => {
  let world: EmulatedWorld;
  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => {
    await world?.stop();
  });

  function run(opts: { date?: string; uri?: string; dryRun: boolean; json: boolean }) {
    const lines: string[] = [];
    const config = loadConfig(world.env({ WEBEX_ENABLED: 'false' }));
    return runHuntCommand(opts, { config, logger: silentLogger, out: (s) => lines.push(s) }).then((code) => ({ code, output: lines.join('\n') }));
  }

  it('dry run: prints targets per threat, creates no casebook and sends no e-mail', async () => {
    const { code, output } = await run({ date: '2021-07-23', dryRun: true, json: true });
    expect(code).toBe(0);
    const report = JSON.parse(output) as { dryRun: boolean; threats: { name: string; targets: unknown[]; casebook?: unknown }[]; xdrCalls: number };
    expect(report.dryRun).toBe(true);
    expect(report.threats.length).toBeGreaterThan(5);
    expect(report.threats.some((t) => t.targets.length > 0)).toBe(true);
    expect(report.threats.every((t) => t.casebook === undefined)).toBe(true);
    expect(Object.keys(world.xdr.state.casebook ?? {})).toHaveLength(0);
    expect(world.smtp.messages).toHaveLength(0);
  });

  it('a real run from a URI creates casebooks and prints a readable report', async () => {
    const uri = `${world.talos.url}/Cisco-Talos/Threat-Round-Up/master/2021/0723.json`;
    const { code, output } = await run({ uri, dryRun: false, json: false });
    expect(code).toBe(0);
    expect(output).toMatch(/→ target hostname=/);
    expect(output).toMatch(/no targets found for /);
    expect(output).toMatch(/casebook /);
    expect(Object.keys(world.xdr.state.casebook ?? {}).length).toBeGreaterThan(0);
  });

  it('says so and exits 3 when the week is not published', async () => {
    const { code, output } = await run({ date: '2021-07-30', dryRun: true, json: false });
    expect(code).toBe(3);
    expect(output).toMatch(/not published/);
  });
});
