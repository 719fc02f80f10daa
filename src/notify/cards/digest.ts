import type { IncidentDigest, IncidentView } from '../notification.js';
import { adaptiveCard, code, container, heading, md, submit, textBlock, type CardElement } from './elements.js';
import { isClosed, type CloseIncidentData, type ShowSightingsData } from './incident.js';
import { fitMessage, type WebexMessageContent } from './limits.js';
import { mentionOf } from './rung.js';

const MENTIONABLE = /^[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+$/;
const num = (n: number) => n.toLocaleString('en-US');

function headline(d: IncidentDigest): string {
  const total = d.top.length + d.more;
  const parts = [`${num(total)} incident${total === 1 ? '' : 's'}`];
  const detail = [d.newIncidents > 0 ? `${num(d.newIncidents)} new` : undefined, d.updatedIncidents > 0 ? `${num(d.updatedIncidents)} updated` : undefined].filter(Boolean);
  if (detail.length > 0) parts.push(`(${detail.join(', ')})`);
  return d.phase === 'started' ? `Alert storm: ${parts.join(' ')} waiting` : `Storm digest: ${parts.join(' ')}`;
}

function line(i: IncidentView): string {
  return `${i.targetType}: ${i.targetValue} — ${num(i.count)} security event${i.count === 1 ? '' : 's'}`;
}

function incidentBlock(i: IncidentView): CardElement {
  const close: CloseIncidentData = { action: 'close_incident', incidentId: i.id };
  const show: ShowSightingsData = { action: 'show_sightings', incidentId: i.id };
  const actions = [...(isClosed(i.status) ? [] : [submit('Close', { ...close })]), submit('Show sightings', { ...show })];
  return container([textBlock(line(i)), { type: 'ActionSet', actions }], { separator: true });
}

/**
 * A storm digest: one card listing the incidents that matter most now, each with its Close and
 * Show sightings buttons, and a count of the rest; then, when rungs fired, one markdown message
 * that mentions on-call once for all of them (mentions do not work inside cards).
 */
export function renderDigest(d: IncidentDigest): WebexMessageContent[] {
  if (d.phase === 'ended') {
    return [{ markdown: '**Alert storm over**: back to one card per incident. `incidents` lists every open incident.' }];
  }
  const intro =
    d.phase === 'started'
      ? 'More incident news than this room can show one by one: a digest follows at most once a minute until it calms down.'
      : undefined;
  const rest = d.more > 0 ? `and ${num(d.more)} more: \`incidents\` lists them` : undefined;
  const first = fitMessage((budget) => {
    const shown = d.top.slice(0, budget);
    const hidden = d.more + d.top.length - shown.length;
    const restLine = hidden > 0 ? `and ${num(hidden)} more: \`incidents\` lists them` : rest;
    const markdown = [
      `**${md(headline(d))}**`,
      ...(intro ? [intro] : []),
      '',
      ...shown.map((i) => `- ${md(i.targetType)}: ${code(i.targetValue)} — **${num(i.count)}** security events`),
      ...(restLine ? ['', restLine] : []),
    ].join('\n');
    const card = adaptiveCard([
      heading(headline(d), { color: 'Attention' }),
      ...(intro ? [textBlock(intro, { subtle: true })] : []),
      ...shown.map(incidentBlock),
      ...(restLine ? [textBlock(restLine)] : []),
    ]);
    return { markdown, card };
  });
  const out = [first];
  if (d.escalations.length > 0) {
    const mentions = d.mention.filter((e) => MENTIONABLE.test(e)).map(mentionOf);
    const lines = d.escalations.map((e) => `- **${md(e.rung)}** → ${md(e.action)}${e.dryRun ? ' (dry run)' : ''}: ${num(e.incidents)} incident${e.incidents === 1 ? '' : 's'}`);
    out.push(fitMessage(() => ({ markdown: [`${mentions.length > 0 ? `${mentions.join(' ')} ` : ''}**Escalations in this digest**`, ...lines].join('\n') })));
  }
  return out;
}
