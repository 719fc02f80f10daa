import { describe, expect, it } from 'vitest';
import { cardReplies } from '../../src/bot/commands/card-replies.js';
import { markdownReplies } from '../../src/bot/commands/replies.js';
import { ask, cardClick, harness, incident } from './fakes.js';

describe('cardReplies', () => {
  it('sends help, hunt status and incident lists as Adaptive Cards with the markdown fallback', async () => {
    const h = harness({}, { replies: cardReplies() });
    h.incidents.all = Array.from({ length: 12 }, (_, i) => incident(i + 1, { status: 'closed' }));
    const markdownOnly = harness();
    markdownOnly.incidents.all = h.incidents.all;
    for (const text of ['help', 'hunt status', 'incidents closed']) {
      expect(await ask(h, text)).toBe(await ask(markdownOnly, text));
      const sent = h.api.posted.at(-1);
      expect(sent?.attachments).toHaveLength(1);
      expect(sent?.attachments?.[0]?.contentType).toBe('application/vnd.microsoft.card.adaptive');
      expect(sent?.attachments?.[0]?.content).toMatchObject({ type: 'AdaptiveCard', version: '1.3' });
    }
  });

  it('keeps the filter on the list card’s Next page button, and that button works', async () => {
    const h = harness({}, { replies: cardReplies() });
    h.incidents.all = Array.from({ length: 12 }, (_, i) => incident(i + 1, { status: 'closed' }));
    await ask(h, 'incidents closed');
    const actions = h.api.posted.at(-1)?.attachments?.[0]?.content.actions as { data?: Record<string, unknown> }[];
    const next = actions.find((a) => a.data?.action === 'list_incidents');
    expect(next?.data).toEqual({ action: 'list_incidents', page: 2, filter: 'closed' });
    await h.bot.handle(cardClick(next?.data ?? {}));
    expect(h.incidents.calls.at(-1)).toEqual({ method: 'list', args: ['closed', 2, 10] });
  });

  it('leaves replies without a card form as markdown', () => {
    const replies = cardReplies();
    expect(replies.incidentClosed(incident(1))).toEqual(markdownReplies.incidentClosed(incident(1)));
  });
});
