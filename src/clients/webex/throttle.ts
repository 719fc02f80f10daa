import pThrottle from 'p-throttle';
import type { NewMessage, WebexApi, WebexMessage } from './port.js';

/**
 * Caps how fast the bot posts (WEBEX_MAX_MESSAGES_PER_MINUTE): a burst of cards
 * queues here instead of drawing 429s from Webex or flooding the room. Reads are
 * not limited.
 */
export function throttlePosts(api: WebexApi, maxPerMinute: number): WebexApi & { posted: number } {
  // 61 s, not 60: a post released exactly 60 s after the first can land within 60 s of it on the Webex side (network jitter).
  const throttle = pThrottle({ limit: maxPerMinute, interval: 61_000, strict: true });
  const post = throttle((msg: NewMessage) => api.postMessage(msg));
  const wrapped = Object.create(api) as WebexApi & { posted: number };
  wrapped.posted = 0;
  wrapped.postMessage = async (msg: NewMessage): Promise<WebexMessage> => {
    const m = await post(msg);
    wrapped.posted++;
    return m;
  };
  return wrapped;
}
