import { adaptiveCard, code, factSet, heading, md, textBlock } from './elements.js';
import { fitMessage, type WebexMessageContent } from './limits.js';

/** One notice for a week in which no Talos source had anything new (instead of a day of retries). */
export function nothingNewSentence(week: string, sources: string[]): string {
  return `Nothing new from Talos this week (${week}): no new post in the IOC repository and no roundup (${sources.join(', ')} checked). Nothing was hunted.`;
}

export const NOTHING_NEW_TODO = 'Sightline looks again at the next scheduled hunt. "hunt blog <uri>" hunts a post or folder you pick.';

export function renderTalosNothingNew({ week, sources }: { week: string; sources: string[] }): WebexMessageContent {
  const markdown = [`**Nothing new from Talos this week** (${md(week)})`, '', nothingNewSentence(md(week), sources.map(md)), '', `Run ${code('hunt blog <uri>')} to hunt a post or a month folder you pick.`].join('\n');
  const card = adaptiveCard([
    heading('Nothing new from Talos this week'),
    textBlock(nothingNewSentence(week, sources)),
    factSet([
      ['Week', week],
      ['Sources checked', sources.join(', ')],
    ]),
    textBlock(NOTHING_NEW_TODO, { subtle: true }),
  ]);
  return fitMessage(() => ({ markdown, card }));
}
