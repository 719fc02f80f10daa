import type { IncidentView } from '../notification.js';
import { code, md, mdLink } from './elements.js';
import { fitMessage, type WebexMessageContent } from './limits.js';

export interface RungFiredInput {
  incident: IncidentView;
  rung: string;
  action: string;
  mention?: string[];
  dryRun: boolean;
}

// Only plain addresses become mentions: a value with spaces or angle brackets could break out of the `<@…>` tag.
const MENTIONABLE = /^[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+$/;

/** Webex mention syntax in markdown; mentions do not work inside cards, so this message is markdown only. */
export function mentionOf(email: string): string {
  return `<@personEmail:${email}>`;
}

export function renderRungFired({ incident, rung, action, mention = [], dryRun }: RungFiredInput): WebexMessageContent {
  const mentions = mention.filter((e) => MENTIONABLE.test(e)).map(mentionOf);
  const link = mdLink('open in XDR', incident.url);
  const lines = [
    `${mentions.length > 0 ? `${mentions.join(' ')} ` : ''}**Escalation: ${md(rung)}** reached for target ${code(incident.targetValue)} ` +
      `(${incident.count} security events).`,
    '',
    `- Action: **${md(action)}**${dryRun ? ' (dry run: nothing was changed)' : ''}`,
  ];
  if (incident.lastIoc) lines.push(`- Last indicator: ${md(incident.lastIoc.type)} ${code(incident.lastIoc.value)}`);
  if (incident.lastSource) lines.push(`- Observed by: **${md(incident.lastSource)}**`);
  if (link) lines.push(`- Review details here: ${link}`);
  return fitMessage(() => ({ markdown: lines.join('\n') }));
}
