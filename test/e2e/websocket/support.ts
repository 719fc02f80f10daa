import type { EmuMessage } from '../../../src/emulators/webex/model.js';
import type { WebexEmulator } from '../../../src/emulators/webex/index.js';

/** Websocket mode with short bounds, so faults resolve within a test's time. */
export const WEBSOCKET_ENV = { WEBEX_MODE: 'websocket', WEBEX_CONNECT_TIMEOUT_SECONDS: '15', WEBEX_RECONNECT_MAX_SECONDS: '1' };

/** An analyst @mentions the bot; resolves with the bot's threaded reply. */
export async function ask(webex: WebexEmulator, roomId: string, text: string, who = 'alice@example.com', timeoutMs = 10_000): Promise<EmuMessage> {
  const sent = webex.postAsPerson(who, roomId, text, { mentionBot: true });
  return webex.waitForMessage((m) => m.roomId === roomId && m.personId === webex.bot.id && m.parentId === sent.id, timeoutMs);
}

export const textOf = (m: EmuMessage): string => `${m.markdown ?? ''} ${m.text ?? ''} ${JSON.stringify(m.attachments ?? [])}`;

export async function readyz(url: string): Promise<{ status: number; body: { checks: Record<string, { ok: boolean; detail?: string }> } }> {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as { checks: Record<string, { ok: boolean; detail?: string }> } };
}
