import { describe, expect, it } from 'vitest';
import type { NewMessage, WebexApi, WebexMessage } from '../../../src/clients/webex/port.js';
import { replyReserve, throttlePosts } from '../../../src/clients/webex/throttle.js';

function api(sent: NewMessage[]): WebexApi {
  return {
    postMessage: async (msg: NewMessage) => {
      sent.push(msg);
      return { id: `m${sent.length}` } as WebexMessage;
    },
  } as WebexApi;
}

describe('throttlePosts: how long the next post would wait', () => {
  it('is 0 under the limit, then the time until the oldest post of the window leaves it', async () => {
    const sent: NewMessage[] = [];
    const posts = throttlePosts(api(sent), 3);
    await posts.postMessage({ roomId: 'r', markdown: 'one' });
    await posts.postMessage({ roomId: 'r', markdown: 'two' });
    expect(posts.postWaitMs()).toBe(0);
    const before = Date.now();
    await posts.postMessage({ roomId: 'r', markdown: 'three' });
    expect(sent).toHaveLength(3);
    // The fourth would go 61 s after the first was let through.
    const wait = posts.postWaitMs(before);
    expect(wait).toBeGreaterThan(60_000);
    expect(wait).toBeLessThanOrEqual(61_000);
    expect(posts.postWaitMs(before + 61_500)).toBe(0);
    expect(posts.posted).toBe(3);
  });

  it('counts a post waiting for its slot: the one after it waits a whole window', async () => {
    const sent: NewMessage[] = [];
    const posts = throttlePosts(api(sent), 1);
    await posts.postMessage({ roomId: 'r', markdown: 'one' });
    // Queued behind the limit (p-throttle holds it for ~61 s; the test does not wait for it).
    void posts.postMessage({ roomId: 'r', markdown: 'two' });
    await new Promise((r) => setImmediate(r));
    expect(sent).toHaveLength(1);
    expect(posts.postWaitMs()).toBe(61_000);
  });
});

describe('throttlePosts: a share of the limit kept for chat replies', () => {
  it('keeps a sixth of the limit, at most 10, at least 1, none at a limit of 1', () => {
    expect([1, 2, 5, 6, 12, 60, 61, 600].map(replyReserve)).toEqual([0, 1, 1, 1, 2, 10, 10, 10]);
  });

  it('answers a reply at once while cards that fill the limit wait for the next window', async () => {
    const sent: NewMessage[] = [];
    const posts = throttlePosts(api(sent), 6);
    expect(posts.notificationsPerMinute).toBe(5);
    // A hunt queues six cards at once (not awaited: the sixth waits ~61 s).
    for (let i = 1; i <= 6; i++) void posts.notifications.postMessage({ roomId: 'hunt', markdown: `card ${i}` });
    await new Promise((r) => setImmediate(r));
    expect(sent.map((m) => m.markdown)).toEqual(['card 1', 'card 2', 'card 3', 'card 4', 'card 5']);
    expect(posts.notifications.postWaitMs()).toBeGreaterThan(60_000);
    // An analyst's command arrives: its reply takes the slot the cards left, not a place behind them.
    const reply = await posts.postMessage({ roomId: 'soc', markdown: 'reply' });
    expect(reply.id).toBe('m6');
    expect(sent.map((m) => m.markdown)).not.toContain('card 6');
    expect(posts.posted).toBe(6);
    // The bot's limit still holds for everything together: the window is full now.
    expect(posts.postWaitMs()).toBeGreaterThan(60_000);
  });

  it('keeps nothing back at a limit of 1: the one post a minute goes to whoever asks first', async () => {
    const sent: NewMessage[] = [];
    const posts = throttlePosts(api(sent), 1);
    expect(posts.notificationsPerMinute).toBe(1);
    await posts.notifications.postMessage({ roomId: 'hunt', markdown: 'card' });
    expect(sent).toHaveLength(1);
    // A reply now waits for the next window like any post.
    expect(posts.postWaitMs()).toBeGreaterThan(60_000);
  });
});
