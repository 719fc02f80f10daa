import { describe, expect, it } from 'vitest';
import { cardReplies } from '../../src/bot/commands/card-replies.js';
import { ADMIN, ANALYST, cardClick, harness, incident } from './fakes.js';

describe('card clicks', () => {
  it('Close button closes the card’s incident, by id, as the clicker, replying under the card', async () => {
    const h = harness();
    h.incidents.all = [incident(3)];
    await h.bot.handle(cardClick({ action: 'close_incident', incidentId: 'incident-3', reason: '  patched ' }));
    expect(h.incidents.calls).toEqual([{ method: 'closeById', args: ['incident-3', ADMIN, 'patched'] }]);
    expect(h.api.posted).toHaveLength(1);
    expect(h.api.posted[0]).toMatchObject({ roomId: 'room-incidents', parentId: 'card-msg-1' });
    expect(h.api.posted[0]?.markdown).toContain('Closed the incident for `host-3`');
    expect(h.api.posted[0]?.markdown).toContain('— reason: patched.');
  });

  it('an empty reason box counts as no reason', async () => {
    const h = harness();
    await h.bot.handle(cardClick({ action: 'close_incident', incidentId: 'incident-3', reason: '' }));
    expect(h.incidents.calls[0]).toEqual({ method: 'closeById', args: ['incident-3', ADMIN, undefined] });
  });

  it('Close button applies the same admin check as `close`', async () => {
    const h = harness();
    await h.bot.handle(cardClick({ action: 'close_incident', incidentId: 'incident-3' }, { personEmail: ANALYST }));
    expect(h.incidents.calls).toEqual([]);
    expect(h.api.texts).toEqual(['Only Sightline admins can close incidents; ask an admin or get added to WEBEX_ADMINS.']);
  });

  it('Show sightings lists the incident’s latest sightings, for anyone allowed in', async () => {
    const h = harness();
    await h.bot.handle(cardClick({ action: 'show_sightings', incidentId: 'incident-3' }, { personEmail: ANALYST }));
    expect(h.incidents.calls).toEqual([{ method: 'sightings', args: ['incident-3', 10] }]);
    expect(h.api.texts[0]).toBe(
      [
        '**Latest sightings of incident `incident-3`**',
        '',
        '- 2026-11-24 09:30 UTC — `domain: evil.example` from Umbrella',
        '- 2026-11-23 10:00 UTC — `sha256: 0123abcd` from Secure Endpoint',
      ].join('\n'),
    );
  });

  it('answers unknown or broken buttons with a clear sentence and calls nothing', async () => {
    const h = harness();
    await h.bot.handle(cardClick({ action: 'launch_missiles' }));
    await h.bot.handle(cardClick({}));
    await h.bot.handle(cardClick({ action: 'close_incident' }));
    await h.bot.handle(cardClick({ action: 'close_incident', incidentId: 42 }));
    await h.bot.handle(cardClick({ action: 'show_sightings', incidentId: '   ' }));
    expect(h.incidents.calls).toEqual([]);
    expect(h.api.texts).toEqual([
      "I don't know the button action `launch_missiles`; try the chat command instead (`help` lists them).",
      "I couldn't tell what that button should do; try the chat command instead (`help` lists them).",
      "That button didn't work: the button did not say which incident. Try the chat command instead (`help` lists them).",
      "That button didn't work: the button did not say which incident. Try the chat command instead (`help` lists them).",
      expect.stringMatching(/^That button didn't work: .+\. Try the chat command instead/),
    ]);
  });

  it('a Close click on an already closed incident closes nothing more and offers the open one as its own button', async () => {
    const h = harness({}, { replies: cardReplies() });
    h.incidents.all = [incident(3, { status: 'closed', targetKey: 'hostname:host-3' }), incident(4, { targetKey: 'hostname:host-3', targetValue: 'host-3' })];
    await h.bot.handle(cardClick({ action: 'close_incident', incidentId: 'incident-3' }));
    expect(h.incidents.calls).toEqual([{ method: 'closeById', args: ['incident-3', ADMIN, undefined] }]);
    const reply = h.api.posted[0]!;
    expect(reply.markdown).toContain('is already closed');
    expect(reply.markdown).toContain('`incident-4`');
    const card = reply.attachments?.[0]?.content as { actions: { title: string; data: Record<string, unknown> }[] };
    expect(card.actions.map((a) => a.data)).toEqual([
      { action: 'close_incident', incidentId: 'incident-4' },
      { action: 'show_sightings', incidentId: 'incident-4' },
    ]);
  });

  it('says so when a closed incident’s target has no open one', async () => {
    const h = harness();
    h.incidents.all = [incident(3, { status: 'closed' })];
    await h.bot.handle(cardClick({ action: 'close_incident', incidentId: 'incident-3' }));
    expect(h.api.posted[0]!.markdown).toContain('Its target has no open incident.');
  });

  it('an old card’s target-only Close button closes nothing and says how to close it', async () => {
    const h = harness();
    h.incidents.all = [incident(3)];
    await h.bot.handle(cardClick({ action: 'close_incident', target: 'ip:10.1.1.1' }));
    expect(h.incidents.calls).toEqual([]);
    expect(h.api.texts[0]).toBe(
      'That Close button for `ip:10.1.1.1` is on an older card that does not say which incident it shows, so I did not close anything. ' +
        'Type `incidents` to find the open incident, then `close <incident id>`; newer cards close their own incident.',
    );
  });

  it('applies the room allow-list to clicks too', async () => {
    const h = harness({ allowedRooms: ['room-soc'] });
    await h.bot.handle(cardClick({ action: 'show_sightings', incidentId: 'incident-3' }));
    expect(h.incidents.calls).toEqual([]);
    expect(h.api.texts[0]).toContain("doesn't take commands in this space");
  });
});

describe('the incident list card’s Next page button', () => {
  it('lists the requested page and filter through the `incidents` command', async () => {
    const h = harness();
    h.incidents.all = Array.from({ length: 25 }, (_, i) => incident(i + 1, { status: 'closed' }));
    await h.bot.handle(cardClick({ action: 'list_incidents', page: 2, filter: 'closed' }, { personEmail: ANALYST }));
    await h.bot.handle(cardClick({ action: 'list_incidents', page: 2 }));
    await h.bot.handle(cardClick({ action: 'list_incidents', page: { x: 1 } }));
    expect(h.incidents.calls).toEqual([
      { method: 'list', args: ['closed', 2, 10] },
      { method: 'list', args: ['open', 2, 10] },
    ]);
    expect(h.api.texts[0]).toContain('Page 2 of 3; `incidents closed 3` for more.');
    expect(h.api.texts[2]).toBe("That button didn't work: the page must be a whole number, like 2. Try the chat command instead (`help` lists them).");
  });
});
