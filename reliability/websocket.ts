import type { EmuMessage } from '../src/emulators/webex/model.js';
import { capturingLogger, startInProcess } from './in-process.js';
import { ReportBuilder, type SuiteReport } from './support.js';

/**
 * Suite 7 — the Webex websocket. The whole bot in websocket mode (the real Webex SDK
 * against the emulator's Mercury socket) while the cloud closes the socket in every way
 * webex-websocket.md §3 lists: the codes the SDK reconnects after itself (1001, 1006,
 * 1011, 1000 "idle") and those it treats as final (1012, 4000, 1000 "server shutdown",
 * 1003), plus an outage with the socket refused. After each: time to reconnect, a
 * command answered, /readyz, one "down" and one "back" log line, devices not piling up.
 */
export interface WebsocketOptions {
  /** Closes of each kind. */
  rounds: number;
  /** How long the outage keeps the socket refused. */
  outageSeconds: number;
  log?: (line: string) => void;
}

const CLOSES: { code: number; reason: string }[] = [
  { code: 1001, reason: 'going away' },
  { code: 1006, reason: '' },
  { code: 1011, reason: 'internal error' },
  { code: 1000, reason: 'idle' },
  { code: 1012, reason: 'service restart' },
  { code: 4000, reason: 'replaced' },
  { code: 1000, reason: 'server shutdown' },
  { code: 1003, reason: 'unsupported' },
];

const ENV = { WEBEX_MODE: 'websocket', WEBEX_CONNECT_TIMEOUT_SECONDS: '10', WEBEX_RECONNECT_MAX_SECONDS: '2' };

export async function runWebsocket(opts: WebsocketOptions): Promise<SuiteReport> {
  const r = new ReportBuilder('7. Webex websocket (closes of every kind)');
  const lines: string[] = [];
  const bot = await startInProcess(ENV, {}, capturingLogger(lines, 'info'));
  const { webex } = bot.world;
  const ws = webex.websocket;
  const logged = (re: RegExp) => lines.filter((l) => re.test((JSON.parse(l) as { msg: string }).msg)).length;
  try {
    await ws.until((s) => s.openSockets === 1, 60_000);
    const roomId = webex.createRoomAsPerson('Reliability', ['alice@example.com']).id;
    const ask = async (text: string): Promise<EmuMessage | undefined> => {
      const sent = webex.postAsPerson('alice@example.com', roomId, text, { mentionBot: true });
      return webex.waitForMessage((m) => m.personId === webex.bot.id && m.parentId === sent.id, 20_000).catch(() => undefined);
    };
    let outages = 0;
    const rssBefore = process.memoryUsage().rss;
    for (const close of CLOSES) {
      const label = `${close.code}${close.reason ? ` "${close.reason}"` : ''}`;
      const times: number[] = [];
      let answered = 0;
      let survived = 0;
      for (let i = 0; i < opts.rounds; i++) {
        const before = ws.stats().connections;
        const t0 = Date.now();
        ws.mercury.closeSockets(close.code, close.reason);
        outages++;
        const back = await ws.until((s) => s.connections > before && s.openSockets === 1, 60_000).then(
          () => true,
          () => false,
        );
        if (!back) continue;
        survived++;
        times.push(Date.now() - t0);
        if (await ask('help')) answered++;
      }
      opts.log?.(`  websocket: ${label}: ${survived}/${opts.rounds} reconnected, ${answered} answered`);
      r.figure(`close ${label}: survived / commands answered after`, `${survived} / ${answered} of ${opts.rounds}`);
      r.figure(`close ${label}: time to reconnect, median / max (s)`, times.length ? `${sec(median(times))} / ${sec(Math.max(...times))}` : 'n/a');
      r.check(`every ${label} close is survived and the next command answered`, survived === opts.rounds && answered === opts.rounds, `${survived} reconnected, ${answered} answered of ${opts.rounds}`);
    }

    // Each final close builds a fresh SDK instance: it must not pile up.
    r.figure('process RSS before / after the closes (MB)', `${mb(rssBefore)} / ${mb(process.memoryUsage().rss)}`);

    // An outage: the socket refused for a while after a final close.
    ws.mercury.refuseSockets(true);
    const t0 = Date.now();
    ws.mercury.closeSockets(1012, 'service restart');
    outages++;
    let sawNotReady = false;
    while (Date.now() - t0 < opts.outageSeconds * 1000) {
      const ready = await fetch(`${bot.app.http.url}/readyz`).then((res) => res.json() as Promise<{ checks: Record<string, { ok: boolean }> }>);
      if (ready.checks['webexWebsocket']?.ok === false) sawNotReady = true;
      await new Promise((res) => setTimeout(res, 250));
    }
    const refused = ws.stats().refusedUpgrades;
    ws.mercury.refuseSockets(false);
    const tBack = Date.now();
    const recovered = await ws.until((s) => s.openSockets === 1, 60_000).then(
      () => true,
      () => false,
    );
    const answeredAfterOutage = recovered && (await ask('hunt status')) !== undefined;
    r.figure(`outage: socket refused for ${opts.outageSeconds} s: attempts refused meanwhile`, refused);
    r.figure('outage: time from the socket being reachable again to connected (s)', sec(Date.now() - tBack));
    r.check('during an outage /readyz names webexWebsocket as not ready', sawNotReady);
    r.check('after an outage the bot reconnects and answers', recovered && answeredAfterOutage);

    const down = logged(/websocket is down|could not connect/);
    const back = logged(/websocket is back/);
    r.figure('outages caused / "down" log lines / "back" log lines', `${outages} / ${down} / ${back}`);
    r.check('the log says "down" once and "back" once per outage, not per retry', down === outages && back === outages, `${down} down, ${back} back for ${outages} outages`);
    const s = ws.stats();
    r.figure('devices registered in all / still registered', `${s.devicesRegistered} / ${s.devices}`);
    r.check('old devices are deleted: one device registered at the end', s.devices === 1, `${s.devices}`);
  } finally {
    await bot.stop();
  }
  const end = ws.stats();
  r.check('stop() closes the socket and deletes the device', end.openSockets === 0 && end.devices === 0, JSON.stringify({ openSockets: end.openSockets, devices: end.devices }));
  return r.done(
    `The bot in websocket mode (WEBEX_CONNECT_TIMEOUT_SECONDS=10, WEBEX_RECONNECT_MAX_SECONDS=2) against the Webex emulator; the emulator closed the socket ${opts.rounds} time(s) with each of ${CLOSES.map((c) => `${c.code}${c.reason ? ` "${c.reason}"` : ''}`).join(', ')} (1006 = the TCP connection dropped without a close frame), a command after each; then refused the socket for ${opts.outageSeconds} s after a 1012.`,
  );
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

function mb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(0);
}

function sec(ms: number): string {
  return (ms / 1000).toFixed(1);
}
