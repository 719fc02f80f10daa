import type { IncidentView } from '../notification.js';
import { code, md, mdLink, plural } from './elements.js';
import { fitMessage, type WebexMessageContent } from './limits.js';

export interface RungFiredInput {
  incident: IncidentView;
  rung: string;
  action: string;
  outcome?: string | undefined;
  firedAtCount?: number | undefined;
  mention?: string[];
  dryRun: boolean;
}

// Only plain addresses become mentions: a value with spaces or angle brackets could break out of the `<@…>` tag.
const MENTIONABLE = /^[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+$/;

/** Webex mention syntax in markdown; mentions do not work inside cards, so this message is markdown only. */
export function mentionOf(email: string): string {
  return `<@personEmail:${email}>`;
}

/** "at 2 security events (5 now)": the count the rung fired at, and the count since, when a batch moved past it. */
export function firedAtText(incident: { count: number }, firedAtCount: number | undefined): string {
  const at = firedAtCount ?? incident.count;
  return `at ${plural(at, 'security event')}${incident.count > at ? `; ${incident.count} now` : ''}`;
}

export function renderRungFired({ incident, rung, action, outcome, firedAtCount, mention = [], dryRun }: RungFiredInput): WebexMessageContent {
  const mentions = mention.filter((e) => MENTIONABLE.test(e)).map(mentionOf);
  const link = mdLink('open in XDR', incident.url);
  const lines = [
    `${mentions.length > 0 ? `${mentions.join(' ')} ` : ''}**Escalation: ${md(rung)}** reached for target ${code(incident.targetValue)} ` +
      `(${firedAtText(incident, firedAtCount)}).`,
    '',
    `- Action: **${md(action)}**${dryRun ? ' (dry run: nothing was changed)' : ''}`,
  ];
  if (outcome) lines.push(`- Outcome: ${md(outcome)}`);
  if (incident.lastIoc) lines.push(`- Last indicator: ${md(incident.lastIoc.type)} ${code(incident.lastIoc.value)}`);
  if (incident.lastSource) lines.push(`- Observed by: **${md(incident.lastSource)}**`);
  if (link) lines.push(`- Review details here: ${link}`);
  return fitMessage(() => ({ markdown: lines.join('\n') }));
}
