import { describe, expect, it } from 'vitest';
import type { NewMessage, WebexApi, WebexMessage } from '../../../src/clients/webex/port.js';
import { throttlePosts } from '../../../src/clients/webex/throttle.js';

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
