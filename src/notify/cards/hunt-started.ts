import type { HuntRef, ThreatSummary } from '../notification.js';
import { adaptiveCard, container, factSet, heading, markup, md, mdLink, openUrl, plural, safeUrl, textBlock } from './elements.js';
import { andMore, cutList, fitMessage, truncateChars, type WebexMessageContent } from './limits.js';

export interface HuntStartedInput {
  hunt: HuntRef;
  publicationDate?: string;
  threats: ThreatSummary[];
}

/** How much of each description fits, for a given list budget. */
function descriptionChars(budget: number): number {
  if (budget >= 25) return 700;
  if (budget >= 6) return 240;
  return 0;
}

export function dryRunNote(hunt: HuntRef): string {
  return hunt.dryRun ? ' (dry run: nothing is written to XDR)' : '';
}

/** "Talos Roundup investigation started": the week, every threat with its description and IOC counts. */
export function renderHuntStarted(input: HuntStartedInput): WebexMessageContent {
  return fitMessage((budget) => build(input, budget));
}

function build({ hunt, publicationDate, threats }: HuntStartedInput, budget: number): WebexMessageContent {
  const { shown, more } = cutList(threats, budget);
  const chars = descriptionChars(budget);
  const published = publicationDate ? `, published ${publicationDate}` : '';
  const intro =
    `Weekly Talos Roundup automated investigation has started for ${hunt.label}${published}: ` +
    `${plural(threats.length, 'threat')} reported${dryRunNote(hunt)}. More information will follow during the investigation.`;
  const source = mdLink('roundup file', hunt.uri);

  const lines = [
    '**This is an informational message.**',
    '',
    md(intro),
    '',
    'Talos has published IOCs related to the following most prevalent threats:',
    ...shown.map((t) => {
      const desc = chars > 0 && t.description ? ` — ${md(truncateChars(t.description, chars))}` : '';
      return `- **${md(t.name)}**${desc} (${iocCounts(t)})`;
    }),
  ];
  if (more > 0) lines.push(`- ${andMore(more, source)}`);
  if (source) lines.push('', `Source: ${source}`);

  const body = [
    heading('Talos Roundup investigation started'),
    textBlock(intro),
    ...shown.map((t) =>
      container(
        [
          textBlock(markup`**${t.name}**`),
          ...(chars > 0 && t.description ? [textBlock(truncateChars(t.description, chars), { subtle: true })] : []),
          factSet([['IOCs', iocCounts(t)]]),
        ],
        { separator: true },
      ),
    ),
  ];
  if (more > 0) body.push(textBlock(andMore(more)));
  const sourceUrl = safeUrl(hunt.uri);
  const card = adaptiveCard(body, sourceUrl ? [openUrl('Open roundup file', sourceUrl)] : []);
  return { markdown: lines.join('\n'), card };
}

function iocCounts(t: ThreatSummary): string {
  const rejected = t.rejectedCount > 0 ? `, ${t.rejectedCount} rejected` : '';
  return `${t.observableCount} to investigate${rejected}`;
}
