import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Observable } from '../../../src/domain/types.js';
import { refang } from '../../../src/emulators/xdr/inspect.js';
import { XdrEmulator, type XdrEmulatorOptions } from '../../../src/emulators/xdr/index.js';
import { TALOS_ROUNDUPS_DIR } from '../../support/fixtures.js';

export const TALOS_DIR = TALOS_ROUNDUPS_DIR;

interface TruThreat {
  iocs: { domain?: { host: string }[]; ip?: { ip: string }[]; file?: { hashes: string[] }[] };
}

/** Domains, IPs and sample hashes of each threat of a real Talos roundup file, refanged. */
export function talosThreats(file = '2021/1203.json'): { name: string; observables: Observable[] }[] {
  const doc = JSON.parse(readFileSync(path.join(TALOS_DIR, file), 'utf8')) as { signatures: string[] } & Record<string, TruThreat>;
  return doc.signatures.map((name) => {
    const iocs = doc[name]!.iocs;
    const seen = new Map<string, Observable>();
    const add = (type: string, value: string) => seen.set(`${type}|${value}`, { type, value });
    for (const d of iocs.domain ?? []) add('domain', refang(d.host));
    for (const i of iocs.ip ?? []) add('ip', refang(i.ip));
    for (const f of iocs.file ?? []) for (const h of f.hashes) add('sha256', h);
    return { name, observables: [...seen.values()] };
  });
}

export async function startEmulator(opts: XdrEmulatorOptions = {}): Promise<XdrEmulator> {
  const emu = new XdrEmulator(opts);
  await emu.start();
  return emu;
}

/** Raw HTTP against the emulator with a fresh valid token. */
export async function api(emu: XdrEmulator, method: string, pathAndQuery: string, body?: unknown, token?: string) {
  const bearer = token ?? (await getToken(emu));
  const res = await fetch(`${emu.url}${pathAndQuery}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as any) : undefined };
}

export async function getToken(emu: XdrEmulator, id = emu.clientId, password = emu.clientPassword): Promise<string> {
  const res = await tokenRequest(emu, id, password);
  if (res.status !== 200) throw new Error(`token request failed: ${res.status}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

export function tokenRequest(emu: XdrEmulator, id: string, password: string, body = 'grant_type=client_credentials'): Promise<Response> {
  return fetch(`${emu.url}/iroh/oauth2/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${id}:${password}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
}

export const newIncident = (extra: Record<string, unknown> = {}) => ({
  title: 'Correlated incident for: DESKTOP-AU3IP5K',
  status: 'New',
  confidence: 'Medium',
  source: 'sightline',
  incident_time: { opened: '2024-05-10T08:12:03.000Z', discovered: '2024-05-10T08:12:03.000Z' },
  ...extra,
});
