import { createWebexHttpClient, WebexHttpApi } from '../src/clients/webex/api.js';
import { silentLogger } from '../src/core/logger.js';
import { WebexEmulator } from '../src/emulators/webex/index.js';
import type { EmuMessage } from '../src/emulators/webex/model.js';
import { FrameworkPump } from '../src/transport/webex/framework-pump.js';
import { startBenchBot } from './bot.js';
import { table, type BenchResult, type TargetCheck } from './report.js';
import { fmt } from './stats.js';

/**
 * Benchmark: Webex REST calls per chat command in each mode, counted by the Webex
 * emulator's request log. "Reads" are the calls made to learn what was asked (message,
 * person, room); the reply (one POST) is the same in every mode. The framework row is
 * the event pump Sightline used before (webex-node-bot-framework in websocket mode).
 */
type Mode = 'webhook' | 'websocket' | 'framework';

interface Cost {
  mode: Mode;
  firstInRoom: number;
  perCommand: number;
  reads: number;
  breakdown: string;
}

const template = (p: string) => p.replace(/\/v1\/(messages|rooms|people|attachment\/actions)\/[^/?]+/, '/v1/$1/{id}');

function summarise(mode: Mode, log: { method: string; path: string }[], first: { method: string; path: string }[], n: number): Cost {
  const counts = new Map<string, number>();
  for (const r of log) counts.set(`${r.method} ${template(r.path)}`, (counts.get(`${r.method} ${template(r.path)}`) ?? 0) + 1);
  const reads = log.filter((r) => r.method === 'GET').length / n;
  return {
    mode,
    firstInRoom: first.length,
    perCommand: log.length / n,
    reads,
    breakdown: [...counts].map(([k, v]) => `${k} ×${fmt(v / n, 1)}`).join(', '),
  };
}

/** Sends `help` n times in a fresh room; returns the calls for the first command and for the n after it. */
async function measure(webex: WebexEmulator, n: number, answered: (sent: EmuMessage) => Promise<void>) {
  const roomId = webex.createRoomAsPerson(`Cost ${Math.random()}`, ['alice@example.com']).id;
  const ask = async () => {
    const sent = webex.postAsPerson('alice@example.com', roomId, 'help', { mentionBot: true });
    await answered(sent);
    // Let the bot's own post come back over the socket (and be ignored) before counting on.
    await new Promise((r) => setTimeout(r, 150));
  };
  const a = webex.requestLog.length;
  await ask();
  const b = webex.requestLog.length;
  for (let i = 0; i < n; i++) await ask();
  return { first: webex.requestLog.slice(a, b), steady: webex.requestLog.slice(b) };
}

const replied = (webex: WebexEmulator) => async (sent: EmuMessage) => {
  await webex.waitForMessage((m) => m.personId === webex.bot.id && m.parentId === sent.id, 15_000);
};

async function appMode(mode: 'webhook' | 'websocket', n: number): Promise<Cost> {
  const bot = await startBenchBot({ WEBEX_MODE: mode, WEBEX_MAX_MESSAGES_PER_MINUTE: '6000' });
  try {
    if (mode === 'websocket') await bot.world.webex.websocket.until((s) => s.openSockets === 1, 30_000);
    const { first, steady } = await measure(bot.world.webex, n, replied(bot.world.webex));
    return summarise(mode, steady, first, n);
  } finally {
    await bot.stop();
  }
}

/** The framework as event pump, replying through our client like the app did. */
async function frameworkMode(n: number): Promise<Cost> {
  const webex = new WebexEmulator();
  await webex.start();
  // The framework's SDK reads these when first loaded: this runs before anything else loads it.
  process.env['HYDRA_SERVICE_URL'] = webex.apiBase;
  process.env['U2C_SERVICE_URL'] = `${webex.url}/u2c/api/v1`;
  process.env['WEBEX_LOG_LEVEL'] ??= 'error';
  const api = new WebexHttpApi({ baseUrl: webex.apiBase, token: webex.botToken, logger: silentLogger, http: createWebexHttpClient({ logger: silentLogger }) });
  const pump = new FrameworkPump({
    token: webex.botToken,
    logger: silentLogger,
    handler: { handle: async (e) => void (e.kind === 'message' ? await api.postMessage({ roomId: e.roomId, parentId: e.messageId, markdown: 'help' }) : undefined) },
  });
  const log = console.log;
  console.log = () => undefined; // the framework prints plain lines (§5.7)
  try {
    await pump.start();
    const { first, steady } = await measure(webex, n, replied(webex));
    return summarise('framework', steady, first, n);
  } finally {
    await pump.stop().catch(() => undefined);
    console.log = log;
    await webex.stop();
  }
}

export async function benchWebexCost(o: { quick: boolean }): Promise<BenchResult> {
  const n = o.quick ? 3 : 20;
  const framework = await frameworkMode(n);
  const webhook = await appMode('webhook', n);
  const websocket = await appMode('websocket', n);
  const rows = [framework, webhook, websocket].map((c) => [
    c.mode === 'framework' ? 'websocket, framework pump (before)' : c.mode,
    String(c.firstInRoom),
    fmt(c.perCommand, 1),
    fmt(c.reads, 1),
    c.breakdown,
  ]);
  const targets: TargetCheck[] = [
    { what: 'Webex reads per command, websocket mode', target: '≤ webhook mode', measured: `${fmt(websocket.reads, 1)} (webhook ${fmt(webhook.reads, 1)})`, met: websocket.reads <= webhook.reads },
    { what: 'Webex calls per command, websocket vs the framework pump', target: 'fewer', measured: `${fmt(websocket.perCommand, 1)} vs ${fmt(framework.perCommand, 1)}`, met: websocket.perCommand < framework.perCommand },
  ];
  const markdown = [
    `\`help\` sent ${n} times by an analyst (@mention, group room) after one first command in the room; calls counted in the Webex emulator's request log, per command. ` +
      'The reply is one `POST /v1/messages` in every mode; websocket mode also sees its own reply come back over the socket and ignores it without a call.',
    '',
    table(['mode', 'calls for the first command in a room', 'calls per command after', 'reads per command', 'per command'], rows),
  ].join('\n');
  return { name: 'webex-cost', title: '6. Webex REST calls per command', markdown, targets };
}
