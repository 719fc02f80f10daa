import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRoundup } from '../domain/talos/parse.js';
import { TalosEmulator } from '../emulators/talos/server.js';
import { GithubEmulator } from '../emulators/github/server.js';
import { parsePost } from '../domain/talos/post.js';
import { SmtpEmulator } from '../emulators/smtp/server.js';
import { WebexEmulator } from '../emulators/webex/index.js';
import { XdrEmulator, buildDemoScenario } from '../emulators/xdr/index.js';
import type { XdrScenario } from '../emulators/xdr/index.js';

/**
 * Every outside service Sightline talks to, emulated on loopback: Talos feed,
 * Cisco XDR, Webex and SMTP. Used by the sandbox, the end-to-end tests, the
 * benchmarks and the reliability suites, so they all exercise the same wiring.
 */
export interface EmulatedWorld {
  talos: TalosEmulator;
  /** Cisco-Talos/IOCs: this week's demo posts. */
  github: GithubEmulator;
  xdr: XdrEmulator;
  webex: WebexEmulator;
  smtp: SmtpEmulator;
  stateDir: string;
  /** Environment variables pointing Sightline at the emulators. */
  env(overrides?: Record<string, string>): Record<string, string>;
  stop(): Promise<void>;
}

/** The sandbox's own demo data: one real roundup (see its SOURCES.md), shipped with the project. */
export const SANDBOX_TALOS_DIR = fileURLToPath(new URL('./demo/talos', import.meta.url));

/** This week's Cisco-Talos/IOCs posts in the sandbox (see its SOURCES.md). */
export const SANDBOX_IOCS_DIR = fileURLToPath(new URL('./demo/talos-iocs', import.meta.url));
export const SANDBOX_POSTS = ['2026/08/UAT-10147 deploys SPECTRE', '2026/08/UAT-10147 integrates agentic AI'];

export const SANDBOX_SIGHTINGS_SECRET = 'sandbox-sightings-secret-0123456789';
export const SANDBOX_WEBHOOK_SECRET = 'sandbox-webex-webhook-secret-012345';
export const SANDBOX_ADMINS = ['alice@example.com', 'bob@example.com'];

export interface WorldOptions {
  /** Folder of YYYY/MMDD.json roundups the Talos emulator publishes (default: the sandbox's demo data). */
  talosDir?: string;
  /** Roundup whose IOCs the demo scenario sights (default 2021/0723, the README's example). */
  demoRoundup?: string;
  scenario?: XdrScenario;
  xdrLatencyMs?: number;
  stateDir?: string;
}

export async function startWorld(opts: WorldOptions = {}): Promise<EmulatedWorld> {
  const fixtures = opts.talosDir ?? SANDBOX_TALOS_DIR;
  const demo = opts.demoRoundup ?? '2021/0723.json';
  const roundup = parseRoundup(await readFile(path.join(fixtures, demo), 'utf8'), demo, { includeSampleHashes: false, cidrExpandMax: 4 });
  const talos = new TalosEmulator({ fixturesDir: fixtures });
  const github = new GithubEmulator({ fixturesDir: SANDBOX_IOCS_DIR });
  const posts = [];
  for (const [i, base] of SANDBOX_POSTS.entries()) {
    const files = ['json', 'txt'].map((ext) => ({ path: `${base}.${ext}` }));
    // Uploaded "this week": the first weekly hunt (last 7 days) finds them.
    github.commit(new Date(Date.now() - (SANDBOX_POSTS.length - i) * 86_400_000).toISOString(), files);
    posts.push(parsePost(await Promise.all(files.map(async (f) => ({ path: f.path, text: await readFile(path.join(SANDBOX_IOCS_DIR, f.path), 'utf8') })))));
  }
  // Posts go after the roundup threats, so the roundup's demo sightings stay as they were; every other post is sighted.
  const xdr = new XdrEmulator({ scenario: opts.scenario ?? buildDemoScenario([...roundup.threats, ...(roundup.threats.length % 2 ? [{ name: 'pad', observables: [] }] : []), ...posts]), latencyMs: opts.xdrLatencyMs });
  const webex = new WebexEmulator({});
  const smtp = new SmtpEmulator({});
  const [, , , smtpAddr] = await Promise.all([talos.start(), xdr.start(), webex.start(), smtp.start(), github.start()]);
  const stateDir = opts.stateDir ?? (await mkdtemp(path.join(tmpdir(), 'sightline-world-')));
  const xdrCfg = xdr.xdrConfig();

  return {
    talos,
    github,
    xdr,
    webex,
    smtp,
    stateDir,
    env: (overrides = {}) => ({
      LOG_LEVEL: 'silent',
      STATE_FILE: path.join(stateDir, 'sightline.json'),
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      TALOS_URL_TEMPLATE: talos.githubTemplate,
      TALOS_ALLOWED_HOSTS: `${talos.hostPort},${github.hostPort},raw.githubusercontent.com`,
      GITHUB_API_URL: github.apiUrl,
      GITHUB_RAW_URL: github.rawUrl,
      TALOS_RETRY_INTERVAL_SECONDS: '60',
      XDR_CLIENT_ID: xdrCfg.clientId,
      XDR_CLIENT_PASSWORD: xdrCfg.clientPassword,
      XDR_TOKEN_URL: xdrCfg.tokenUrl,
      XDR_IROH_BASE: xdrCfg.irohBase,
      XDR_CTIA_BASE: xdrCfg.ctiaBase,
      XDR_CASEBOOK_URL_TEMPLATE: xdrCfg.casebookUrlTemplate,
      XDR_INCIDENT_URL_TEMPLATE: xdrCfg.incidentUrlTemplate,
      SMTP_HOST: smtpAddr.host,
      SMTP_PORT: String(smtpAddr.port),
      EMAIL_FROM: 'sightline@example.com',
      EMAIL_TO: 'soc@example.com',
      WEBEX_TOKEN: webex.botToken,
      WEBEX_API_BASE: webex.apiBase,
      WEBEX_MODE: 'webhook',
      WEBEX_U2C_BASE: `${webex.url}/u2c/api/v1`,
      WEBEX_WEBHOOK_SECRET: SANDBOX_WEBHOOK_SECRET,
      WEBEX_ADMINS: SANDBOX_ADMINS.join(','),
      WEBEX_ROOM_MEMBERS: SANDBOX_ADMINS.join(','),
      WEBEX_MAX_MESSAGES_PER_MINUTE: '600',
      SIGHTINGS_HMAC_SECRET: SANDBOX_SIGHTINGS_SECRET,
      CORRELATION_COALESCE_MS: '2000',
      CORRELATION_ONCALL: 'bob@example.com',
      CORRELATION_RESPONSE_ACTIONS: 'amp-start-isolation-amp-computer-guid',
      HUNT_RUN_MISSED_ON_START: 'false',
      ...overrides,
    }),
    stop: async () => {
      await Promise.allSettled([talos.stop(), xdr.stop(), webex.stop(), smtp.stop(), github.stop()]);
    },
  };
}
