import pThrottle from 'p-throttle';
import type { NewMessage, WebexApi, WebexMessage } from './port.js';

/** 61 s, not 60: a post released exactly 60 s after the first can land within 60 s of it on the Webex side (network jitter). */
const WINDOW_MS = 61_000;

export type ThrottledWebexApi = WebexApi & { posted: number; postWaitMs(now?: number): number };

/**
 * Caps how fast the bot posts (WEBEX_MAX_MESSAGES_PER_MINUTE): a burst of cards
 * queues here instead of drawing 429s from Webex or flooding the room. Reads are
 * not limited.
 *
 * `postWaitMs()` says how long a post made now would wait here, so a caller holding something
 * scarce while it posts (the PostgreSQL outbox holds a transaction) can let it go and come back
 * instead of waiting with it. It counts the posts let through in the last window and those
 * p-throttle holds (`queueSize`); p-throttle still decides when each one goes.
 */
export function throttlePosts(api: WebexApi, maxPerMinute: number): ThrottledWebexApi {
  const throttle = pThrottle({ limit: maxPerMinute, interval: WINDOW_MS, strict: true });
  /** When each post of the last window was let through, oldest first (p-throttle does not say). */
  const released: number[] = [];
  const post = throttle((msg: NewMessage) => {
    released.push(Date.now());
    if (released.length > maxPerMinute) released.shift();
    return api.postMessage(msg);
  });
  const wrapped = Object.create(api) as ThrottledWebexApi;
  wrapped.posted = 0;
  wrapped.postMessage = async (msg: NewMessage): Promise<WebexMessage> => {
    const m = await post(msg);
    wrapped.posted++;
    return m;
  };
  wrapped.postWaitMs = (now = Date.now()): number => {
    while (released.length > 0 && released[0]! <= now - WINDOW_MS) released.shift();
    const ahead = released.length + post.queueSize;
    if (ahead < maxPerMinute) return 0;
    // This post goes once the (ahead - max)-th oldest release has left the window; one queued behind
    // more than a window's worth waits at least a whole window.
    const k = ahead - maxPerMinute;
    return k < released.length ? released[k]! + WINDOW_MS - now : WINDOW_MS;
  };
  return wrapped;
}
