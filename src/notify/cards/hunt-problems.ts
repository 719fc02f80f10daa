import type { HuntRef } from '../notification.js';
import { adaptiveCard, code, factSet, heading, md, mdLink, textBlock, trusted } from './elements.js';
import { fitMessage, truncateChars, type WebexMessageContent } from './limits.js';

export interface NotPublishedInput {
  week: string;
  uri: string;
  attempts: number;
}

/** The seed's "not published" sentence (§2.5), with what to do next instead of "re-run it manually". */
export function notPublishedSentence(week: string, attempts: number, uri: string): string {
  return (
    `Looks like the weekly Talos Roundup has not been published this week (${week}): ` +
    `tried ${attempts} ${attempts === 1 ? 'time' : 'times'}. The following link has been searched without success: ${uri}`
  );
}

export const NOT_PUBLISHED_TODO =
  'Sightline has stopped retrying for this week. When the roundup appears, run "hunt blog <uri>" with its address, or "hunt now" to try this week again.';

export function renderNotPublished({ week, uri, attempts }: NotPublishedInput): WebexMessageContent {
  const link = mdLink(uri, uri) ?? code(uri);
  const markdown = [
    `**Talos Roundup not published** (${md(week)})`,
    '',
    notPublishedSentence(md(week), attempts, link),
    '',
    `Sightline has stopped retrying for this week. When the roundup appears, run ${code('hunt blog <uri>')} with its address, or ${code('hunt now')} to try this week again.`,
  ].join('\n');
  const card = adaptiveCard([
    heading('Talos Roundup not published', { color: 'Warning' }),
    textBlock(notPublishedSentence(week, attempts, uri)),
    factSet([
      ['Week', week],
      ['Attempts', String(attempts)],
      ['Last URI tried', uri],
    ]),
    textBlock('What to do:', { subtle: true }),
    textBlock(trusted(`- ${code('hunt blog <uri>')} hunts a roundup file you found yourself\n- ${code('hunt now')} tries this week again`)),
  ]);
  return fitMessage(() => ({ markdown, card }));
}

export interface HuntFailedInput {
  hunt?: HuntRef;
  week?: string;
  error: string;
}

export function renderHuntFailed({ hunt, week, error }: HuntFailedInput): WebexMessageContent {
  const what = hunt?.label ?? week ?? 'this week';
  const reason = truncateChars(error, 2000);
  const markdown = [
    `**Talos Roundup investigation failed** (${md(what)})`,
    '',
    `Reason: ${md(reason)}`,
    '',
    `Run ${code('hunt now')} to try again, or ${code('hunt status')} to see what is running.`,
  ].join('\n');
  const card = adaptiveCard([
    heading('Talos Roundup investigation failed', { color: 'Attention' }),
    factSet([
      ['Hunt', hunt?.label ?? week],
      ['Hunt id', hunt?.id],
      ['Source', hunt?.uri],
    ]),
    textBlock(`Reason: ${reason}`),
    textBlock(trusted('Run `hunt now` to try again, or `hunt status` to see what is running.'), { subtle: true }),
  ]);
  return fitMessage(() => ({ markdown, card }));
}
