import pThrottle from 'p-throttle';
import type { NewMessage, WebexApi, WebexMessage } from './port.js';

/** 61 s, not 60: a post released exactly 60 s after the first can land within 60 s of it on the Webex side (network jitter). */
const WINDOW_MS = 61_000;

export type ThrottledWebexApi = WebexApi & {
  posted: number;
  postWaitMs(now?: number): number;
  /**
   * The same API for notifications (cards, digests, threaded updates): their posts first pass a
   * cap of `notificationsPerMinute`, then the bot's own limit with everything else. The posts this
   * leaves in every window are for chat replies, so an analyst's answer does not queue behind a
   * hunt's or a storm's cards.
   */
  notifications: WebexApi & { postWaitMs(now?: number): number };
  /** What notifications may use of the limit (the limit less the replies' reserve). */
  notificationsPerMinute: number;
};

/**
 * The posts of each window kept for chat replies: a sixth of the limit, at most 10 (at the default
 * 60 a minute, 50 for notifications). A limit of 1 keeps none: one message a minute cannot be split.
 */
export function replyReserve(maxPerMinute: number): number {
  return maxPerMinute < 2 ? 0 : Math.min(10, Math.max(1, Math.floor(maxPerMinute / 6)));
}

/**
 * One sliding window of p-throttle (limit posts in any WINDOW_MS), and how long a call made now
 * would wait in it. p-throttle decides when each call goes; it does not say when it let the last
 * ones through, so that is kept here.
 */
function windowLimit(limit: number, post: (msg: NewMessage) => Promise<WebexMessage>) {
  const throttle = pThrottle({ limit, interval: WINDOW_MS, strict: true });
  /** When each call of the last window was let through, oldest first. */
  const released: number[] = [];
  const call = throttle((msg: NewMessage) => {
    released.push(Date.now());
    if (released.length > limit) released.shift();
    return post(msg);
  });
  const waitMs = (now = Date.now()): number => {
    while (released.length > 0 && released[0]! <= now - WINDOW_MS) released.shift();
    const ahead = released.length + call.queueSize;
    if (ahead < limit) return 0;
    // This call goes once the (ahead - limit)-th oldest release has left the window; one queued behind
    // more than a window's worth waits at least a whole window.
    const k = ahead - limit;
    return k < released.length ? released[k]! + WINDOW_MS - now : WINDOW_MS;
  };
  return { call, waitMs };
}

/**
 * Caps how fast the bot posts (WEBEX_MAX_MESSAGES_PER_MINUTE): a burst of cards
 * queues here instead of drawing 429s from Webex or flooding the room. Reads are
 * not limited.
 *
 * Notifications go through `notifications`, which holds them to the limit less `replyReserve`:
 * the bot's limit is first come first served, and without the reserve a chat reply posted after
 * 60 queued cards waited a minute for its turn.
 *
 * `postWaitMs()` says how long a post made now would wait here, so a caller holding something
 * scarce while it posts (the PostgreSQL outbox holds a transaction) can let it go and come back
 * instead of waiting with it. It counts the posts let through in the last window and those
 * p-throttle holds (`queueSize`); p-throttle still decides when each one goes.
 */
export function throttlePosts(api: WebexApi, maxPerMinute: number): ThrottledWebexApi {
  const all = windowLimit(maxPerMinute, (msg: NewMessage) => api.postMessage(msg));
  const notificationsPerMinute = maxPerMinute - replyReserve(maxPerMinute);
  const notified = windowLimit(notificationsPerMinute, (msg: NewMessage) => all.call(msg));
  const wrapped = Object.create(api) as ThrottledWebexApi;
  wrapped.posted = 0;
  wrapped.postMessage = async (msg: NewMessage): Promise<WebexMessage> => {
    const m = await all.call(msg);
    wrapped.posted++;
    return m;
  };
  wrapped.postWaitMs = all.waitMs;
  const notifications = Object.create(api) as ThrottledWebexApi['notifications'];
  notifications.postMessage = async (msg: NewMessage): Promise<WebexMessage> => {
    const m = await notified.call(msg);
    wrapped.posted++;
    return m;
  };
  notifications.postWaitMs = (now = Date.now()) => Math.max(notified.waitMs(now), all.waitMs(now));
  wrapped.notifications = notifications;
  wrapped.notificationsPerMinute = notificationsPerMinute;
  return wrapped;
}
