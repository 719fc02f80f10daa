import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runIocsCommand, type IocsOutput } from '../../src/cli/iocs.js';
import { HttpClient } from '../../src/clients/http.js';
import type { Config } from '../../src/config/load.js';
import { NotFoundError, SightlineError, UriRefusedError, ValidationError } from '../../src/core/errors.js';
import { TalosEmulator } from '../../src/emulators/talos/server.js';
import { GithubEmulator } from '../../src/emulators/github/server.js';
import { loadConfig } from '../../src/config/load.js';
import { talosConfigFor } from '../support/talos-config.js';
import { TALOS_IOCS_DIR, TALOS_ROUNDUPS_DIR } from '../support/fixtures.js';

const FIXTURES = TALOS_ROUNDUPS_DIR;
const emulator = new TalosEmulator({ fixturesDir: TALOS_ROUNDUPS_DIR });
beforeAll(() => emulator.start());
afterAll(() => emulator.stop());

function talos(over: Partial<Config['talos']> = {}): Config['talos'] {
  return talosConfigFor(emulator, over);
}

async function run(target: string, over: Partial<Config['talos']> = {}): Promise<IocsOutput> {
  const lines: string[] = [];
  const http = new HttpClient({ service: 'Talos', retry: { retries: 0 } });
  await runIocsCommand(target, { talos: talos(over), http }, (s) => lines.push(s));
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as IocsOutput;
}

describe('sightline iocs', () => {
  it('prints threats, observables and rejections of a local file as JSON', async () => {
    const out = await run(path.join(FIXTURES, '2021/0723.json'));
    expect(out.threats).toHaveLength(9);
    const zusy = out.threats.find((t) => t.name === 'Win.Packed.Zusy-9878674-0')!;
    expect(zusy.rejected).toHaveLength(14);
    expect(zusy.rejected[0]).toEqual({ value: expect.any(String), reason: 'single-label host' });
    expect(Object.keys(zusy.observables[0]!)).toEqual(['type', 'value']);
    expect(out.threats.flatMap((t) => t.observables).some((o) => o.value.includes('[.]'))).toBe(false);
  });

  it('reads a URL through the allow-list and gives the same answer as the file', async () => {
    const fromUrl = await run(`${emulator.url}/Cisco-Talos/Threat-Round-Up/master/2021/1203.json`);
    const fromFile = await run(path.join(FIXTURES, '2021/1203.json'));
    expect(fromUrl).toEqual(fromFile);
  });

  it('honours TALOS_INCLUDE_SAMPLE_HASHES', async () => {
    const count = (o: IocsOutput) => o.threats.flatMap((t) => t.observables).length;
    const file = path.join(FIXTURES, '2021/0617.json');
    expect(count(await run(file, { includeSampleHashes: true }))).toBeGreaterThan(count(await run(file)));
  });

  it('refuses a URL that is not allow-listed', async () => {
    await expect(run('https://evil.example/roundup.json')).rejects.toBeInstanceOf(UriRefusedError);
  });

  it('says when the file does not exist', async () => {
    await expect(run(path.join(FIXTURES, 'nope.json'))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('says when the file is not JSON or not a roundup', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sightline-iocs-'));
    writeFileSync(path.join(dir, 'garbage.json'), 'garbage');
    writeFileSync(path.join(dir, 'other.json'), '{"type":"list","objects":[]}');
    await expect(run(path.join(dir, 'garbage.json'))).rejects.toThrow(/is not valid JSON/);
    const err = await run(path.join(dir, 'other.json')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).userMessage).toMatch(/neither a STIX 2 bundle, a STIX 1 package nor a MISP event export/);
  });

  it('refuses a file over TALOS_MAX_FILE_BYTES before reading it', async () => {
    const err = await run(path.join(FIXTURES, '2021/0723.json'), { maxFileBytes: 1024 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SightlineError);
    expect((err as SightlineError).code).toBe('payload_too_large');
    expect((err as SightlineError).userMessage).toMatch(/TALOS_MAX_FILE_BYTES/);
  });
});

describe('sightline iocs on Cisco-Talos/IOCs files', () => {
  const iocs = (file: string) => path.join(TALOS_IOCS_DIR, file);
  it.each([
    ['2026/08/UAT-10147 deploys SPECTRE.json', 'UAT-10147 Deploys SPECTRE: A Cross-Platform Implant with Linux Rootkit and BYOVD Capabilities', 58],
    ['2022/11/emotet-coming-in-hot.json', 'Emotet is firing up its engines for another campaign', undefined],
    ['2025/11/kraken-ransomware-group.txt', 'kraken-ransomware-group', 11],
  ])('reads %s as one threat named after the post', async (file, name, count) => {
    const out = await run(iocs(file));
    expect(out.threats).toHaveLength(1);
    expect(out.threats[0]!.name).toBe(name);
    if (count !== undefined) expect(out.threats[0]!.observables).toHaveLength(count);
  });
});

describe('sightline iocs on GitHub addresses', () => {
  const github = new GithubEmulator({ fixturesDir: TALOS_IOCS_DIR });
  beforeAll(async () => {
    await github.start();
    github.commit('2026-08-20T05:00:00Z', [{ path: '2026/08/UAT-10147 deploys SPECTRE.json' }, { path: '2026/08/UAT-10147 deploys SPECTRE.txt' }]);
  });
  afterAll(() => github.stop());

  it('reads a tree/…/YYYY/MM folder as one threat per post', async () => {
    const config = loadConfig({ WEBEX_ENABLED: 'false', XDR_CLIENT_ID: 'x', XDR_CLIENT_PASSWORD: 'x', TALOS_ALLOWED_HOSTS: github.hostPort, GITHUB_API_URL: github.apiUrl, GITHUB_RAW_URL: github.rawUrl });
    const lines: string[] = [];
    await runIocsCommand('https://github.com/Cisco-Talos/IOCs/tree/main/2026/08', { talos: config.talos, config }, (s) => lines.push(s));
    const out = JSON.parse(lines[0]!) as IocsOutput;
    expect(out.threats.map((t) => t.name)).toEqual(['UAT-10147 Deploys SPECTRE: A Cross-Platform Implant with Linux Rootkit and BYOVD Capabilities']);
    expect(out.threats[0]!.observables).toHaveLength(58);
  });
});
