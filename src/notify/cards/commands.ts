import { deadLettersLine } from '../../bot/commands/replies.js';
import type { HuntStatus } from '../../domain/ports/services.js';
import type { IncidentView } from '../notification.js';
import { adaptiveCard, code, container, factSet, heading, markup, md, mdLink, submit, textBlock, trusted, type CardAction, type CardElement } from './elements.js';
import { andMore, cutList, fitMessage, type WebexMessageContent } from './limits.js';

/** Answers to chat commands. Help is generated from the command table (commands are data). */
export function renderHelp(commands: { usage: string; help: string }[]): WebexMessageContent {
  return fitMessage((budget) => {
    const { shown, more } = cutList(commands, Math.max(budget, 12));
    const lines = ['**What I can do**', '', ...shown.map((c) => `- ${code(c.usage)} — ${md(c.help)}`)];
    if (more > 0) lines.push(`- ${andMore(more)}`);
    const body: CardElement[] = [heading('What I can do'), factSet(shown.map((c) => [c.usage, trusted(c.help)]))];
    if (more > 0) body.push(textBlock(andMore(more)));
    return { markdown: lines.join('\n'), card: adaptiveCard(body) };
  });
}

/**
 * One page of incidents. `page` is 1-based; the page size is `items.length`
 * unless it is the last page. "Next page" sends `{action:'list_incidents', page}`.
 */
export function renderIncidentList(items: IncidentView[], page: number, total: number, pageSize = Math.max(items.length, 1)): WebexMessageContent {
  const first = total === 0 ? 0 : (page - 1) * pageSize + 1;
  const last = first === 0 ? 0 : first + items.length - 1;
  const range = total === 0 ? 'No incidents.' : `Incidents ${first}–${last} of ${total} (page ${page}).`;
  const hasNext = last < total;
  return fitMessage((budget) => {
    const { shown, more } = cutList(items, Math.max(budget, 5));
    const lines = [`**Incidents**`, '', range, '', ...shown.map((i) => `- ${incidentLine(i)}`)];
    if (more > 0) lines.push(`- ${andMore(more)}`);
    const body: CardElement[] = [
      heading('Incidents'),
      textBlock(range, { subtle: true }),
      ...shown.map((i) =>
        container(
          [
            textBlock(markup`**${i.targetValue}** (${i.targetType})`),
            factSet([
              ['Status', i.status],
              ['Security events', String(i.count)],
              ['Last indicator', i.lastIoc ? `${i.lastIoc.type}: ${i.lastIoc.value}` : undefined],
              ['Last seen', i.lastSeen],
              ['Incident id', i.id],
            ]),
          ],
          { separator: true },
        ),
      ),
    ];
    if (more > 0) body.push(textBlock(andMore(more)));
    const actions: CardAction[] = hasNext ? [submit('Next page', { action: 'list_incidents', page: page + 1 })] : [];
    return { markdown: lines.join('\n'), card: adaptiveCard(body, actions) };
  });
}

function incidentLine(i: IncidentView): string {
  const link = mdLink('XDR', i.url);
  return `${code(i.targetValue)} — ${md(i.status)}, ${i.count} security events, last seen ${md(i.lastSeen)}${link ? ` — ${link}` : ''}`;
}

/**
 * The answer to a Close click on an already closed incident: says so, and offers
 * the target's open incident as its own button (by id), never closing it unasked.
 */
export function renderAlreadyClosed(closed: IncidentView, open?: IncidentView): Record<string, unknown> {
  const body: CardElement[] = [
    heading('Incident already closed', { color: 'Good' }),
    textBlock(markup`The incident for **${closed.targetValue}** (${closed.targetType}) is already closed; nothing was changed.`),
    factSet([
      ['Incident id', closed.id],
      ['Status', closed.status],
    ]),
  ];
  const actions: CardAction[] = [];
  if (open) {
    body.push(
      container(
        [
          textBlock(markup`Its target has a newer open incident:`),
          factSet([
            ['Incident id', open.id],
            ['Security events', String(open.count)],
            ['Last seen', open.lastSeen],
          ]),
        ],
        { separator: true },
      ),
    );
    actions.push(submit('Close the open incident', { action: 'close_incident', incidentId: open.id }));
    actions.push(submit('Show its sightings', { action: 'show_sightings', incidentId: open.id }));
  } else body.push(textBlock('Its target has no open incident.', { subtle: true }));
  return adaptiveCard(body, actions);
}

export function renderHuntStatus(status: HuntStatus): WebexMessageContent {
  const facts: [string, string | undefined][] = [];
  if (status.running) {
    const r = status.running;
    facts.push(['Running', r.onAnotherInstance ? `${r.label} (its progress shows in that instance's log)` : `${r.label} (${r.threatsDone}/${r.threatsTotal} threats done, started ${r.startedAt})`]);
  } else facts.push(['Running', 'nothing']);
  if (status.last) {
    const l = status.last;
    facts.push(['Last hunt', `${l.label}: ${l.status} (started ${l.startedAt}${l.finishedAt ? `, finished ${l.finishedAt}` : ''})`]);
    facts.push(['Last result', l.summary]);
  }
  facts.push(['Next scheduled run', status.nextRun]);
  if (status.pendingRetry) {
    const p = status.pendingRetry;
    facts.push(['Waiting for roundup', `${p.week}: attempt ${p.attempt} of ${p.maxAttempts}, next at ${p.nextAttemptAt}`]);
  }
  if (status.cursorUrlId !== undefined) facts.push(['Talos upload id cursor', String(status.cursorUrlId)]);
  if (status.xdrDeadLetters && status.xdrDeadLetters.total > 0) facts.push(['XDR refused for good', deadLettersLine(status.xdrDeadLetters)]);

  const shown = facts.filter((f): f is [string, string] => f[1] !== undefined);
  const markdown = ['**Hunt status**', '', ...shown.map(([k, v]) => `- ${k}: ${md(v)}`)].join('\n');
  return fitMessage(() => ({ markdown, card: adaptiveCard([heading('Hunt status'), factSet(shown)]) }));
}
