import { describe, expect, it } from 'vitest';
import { renderHelp, renderHuntStatus, renderIncidentList } from '../../../src/notify/cards/index.js';
import { byteLength, MAX_CARD_BYTES, MAX_TEXT_BYTES } from '../../../src/notify/cards/limits.js';
import { incident } from '../fixtures.js';
import { adaptiveCard13, parseWithAdaptiveCards } from './card-schema.js';

function valid(m: { markdown: string; card?: Record<string, unknown> }): Record<string, unknown> {
  expect(byteLength(m.markdown)).toBeLessThanOrEqual(MAX_TEXT_BYTES);
  expect(m.card).toBeDefined();
  adaptiveCard13.parse(m.card);
  expect(byteLength(JSON.stringify(m.card))).toBeLessThanOrEqual(MAX_CARD_BYTES);
  expect(parseWithAdaptiveCards(m.card).problems).toEqual([]);
  return m.card!;
}

describe('command answers', () => {
  it('renders help from the command table', () => {
    const m = renderHelp([
      { usage: 'hunt now', help: "Hunts this week's Talos roundup" },
      { usage: 'hunt blog <uri>', help: 'Hunts one roundup file' },
    ]);
    valid(m);
    expect(m.markdown).toContain('`hunt blog <uri>`');
    expect(m.markdown).toContain("Hunts this week's Talos roundup");
  });

  it('renders a page of incidents with a Next page button while more remain', () => {
    const items = Array.from({ length: 10 }, (_, i) => ({ ...incident, id: `incident-${i}`, targetValue: `host-${i}` }));
    const m = renderIncidentList(items, 2, 35);
    const card = valid(m);
    expect(m.markdown).toContain('Incidents 11–20 of 35 (page 2).');
    for (const i of items) expect(m.markdown).toContain(i.targetValue);
    expect(card.actions).toEqual([{ type: 'Action.Submit', title: 'Next page', data: { action: 'list_incidents', page: 3 } }]);
  });

  it('renders the last page without Next and an empty list plainly', () => {
    expect(valid(renderIncidentList([incident], 4, 31, 10)).actions).toBeUndefined();
    expect(renderIncidentList([], 1, 0).markdown).toContain('No incidents.');
  });

  it('keeps a list of 500 incidents within limits', () => {
    const items = Array.from({ length: 500 }, (_, i) => ({ ...incident, id: `incident-${i}`, targetValue: `workstation-${i}.corp.example.com` }));
    const m = renderIncidentList(items, 1, 500);
    valid(m);
    expect(m.markdown).toMatch(/and \d+ more/);
  });

  it('renders the hunt status, including a pending retry', () => {
    const m = renderHuntStatus({
      running: { id: 'h1', label: 'week of 2021-07-23', startedAt: '2021-07-23T22:00:00Z', threatsDone: 3, threatsTotal: 9 },
      last: { id: 'h0', label: 'week of 2021-07-16', status: 'finished', startedAt: '2021-07-16T22:00:00Z', finishedAt: '2021-07-16T22:05:00Z', summary: '2 targets' },
      nextRun: '2021-07-30T22:00:00Z',
      pendingRetry: { week: '2021-07-30', attempt: 3, maxAttempts: 24, nextAttemptAt: '2021-07-31T01:00:00Z' },
    });
    valid(m);
    expect(m.markdown).toContain('3/9 threats done');
    expect(m.markdown).toContain('attempt 3 of 24');
  });
});
