import type { IncidentView } from '../../notify/notification.js';
import type { HuntStatus, IncidentFilter } from '../../domain/ports/services.js';
import type { CommandInfo } from './command.js';
import { code, link, md, plural, when } from './format.js';

/** What a command answers: markdown (always — it is the fallback for clients without cards) and maybe a card. */
export interface ReplyContent {
  markdown: string;
  card?: Record<string, unknown>;
  /** Answer a card click in this thread instead of under the card (e.g. the investigation's thread). */
  threadId?: string;
}

export interface IncidentPage {
  filter: IncidentFilter;
  items: IncidentView[];
  /** 1-based. */
  page: number;
  pageSize: number;
  total: number;
}

export interface SightingLine {
  observedAt: string;
  ioc: string;
  source: string;
}

/**
 * The replies that have a richer card form. The default is plain markdown so the
 * command layer never waits on the card renderers; `cardReplies` swaps them in.
 */
export interface Replies {
  help(commands: readonly CommandInfo[]): ReplyContent;
  huntStatus(status: HuntStatus): ReplyContent;
  incidentList(page: IncidentPage): ReplyContent;
  incidentClosed(incident: IncidentView, reason?: string): ReplyContent;
  /** A Close button on a card whose incident is already closed; `open` is the target's open incident, offered as a separate choice. */
  incidentAlreadyClosed(incident: IncidentView, open?: IncidentView): ReplyContent;
  sightings(incidentId: string, sightings: SightingLine[]): ReplyContent;
}

export function pageCount(total: number, pageSize: number): number {
  return Math.max(1, Math.ceil(total / pageSize));
}

/** "page 1 of 3; `incidents open 2` for more" — the hint is the exact command to type next. */
export function pageFooter(p: IncidentPage): string {
  const pages = pageCount(p.total, p.pageSize);
  const more = p.page < pages ? `; ${code(`incidents ${p.filter} ${p.page + 1}`)} for more` : '';
  return `Page ${p.page} of ${pages}${more}.`;
}

export function incidentLine(i: IncidentView): string {
  const target = `${code(i.targetValue)} (${md(i.targetType)})`;
  const status = i.status === 'open' ? '' : `, ${md(i.status)}`;
  const url = link('open in XDR', i.url);
  return `${target} — ${plural(i.count, 'sighting')}, last seen ${when(i.lastSeen)}${status}${url ? ` — ${url}` : ''}`;
}

function helpMarkdown(commands: readonly CommandInfo[]): string {
  // Help texts are our own markdown (from the table), so they are not escaped.
  const lines = commands.map((c) => `- ${code(c.usage)} — ${c.help}${c.adminOnly ? ' *(admins only)*' : ''}`);
  return ['**Sightline commands**', '', ...lines, '', 'Commands are case-insensitive; a leading `/` is fine.'].join('\n');
}

function huntStatusMarkdown(s: HuntStatus): string {
  const running = s.running
    ? `${md(s.running.label)} — ${s.running.threatsDone}/${s.running.threatsTotal} threats done, started ${when(s.running.startedAt)}`
    : 'none';
  const last = s.last
    ? `${md(s.last.label)} — ${md(s.last.status)}, started ${when(s.last.startedAt)}` +
      (s.last.finishedAt ? `, finished ${when(s.last.finishedAt)}` : '') +
      (s.last.summary ? ` (${md(s.last.summary)})` : '')
    : 'none yet';
  const retry = s.pendingRetry
    ? `week ${md(s.pendingRetry.week)}, attempt ${s.pendingRetry.attempt} of ${s.pendingRetry.maxAttempts}, next at ${when(s.pendingRetry.nextAttemptAt)}`
    : 'none';
  return [
    '**Hunt status**',
    `- Running: ${running}`,
    `- Last run: ${last}`,
    `- Next scheduled run: ${s.nextRun ? when(s.nextRun) : 'not scheduled'}`,
    `- Pending retry: ${retry}`,
    `- Roundup cursor: ${s.cursorUrlId === undefined ? 'not set' : `URL id ${s.cursorUrlId}`}`,
    ...(s.xdrDeadLetters && s.xdrDeadLetters.total > 0 ? [`- XDR refused for good: ${md(deadLettersLine(s.xdrDeadLetters))}`] : []),
    ...(s.sources ?? []).map((src) => `- Source ${md(src.name)}: ${md(src.cursor)}`),
  ].join('\n');
}

/** "2 changes (newest: inc-1 on desktop-1, sighting: …)"; the full list is in the state file and the log. */
export function deadLettersLine(d: NonNullable<HuntStatus['xdrDeadLetters']>): string {
  const newest = d.latest[0];
  const count = `${d.total} change${d.total === 1 ? '' : 's'} kept as dead letters`;
  return newest ? `${count} (newest: ${newest.kind} of incident ${newest.incidentId} on ${newest.target} at ${newest.at}: ${newest.reason})` : count;
}

function incidentListMarkdown(p: IncidentPage): string {
  const title = `**${p.filter === 'all' ? 'All' : p.filter === 'open' ? 'Open' : 'Closed'} incidents** (${p.total})`;
  if (p.total === 0) return `${title}\n\nNo ${p.filter === 'all' ? '' : `${p.filter} `}incidents.`;
  const first = (p.page - 1) * p.pageSize;
  const lines = p.items.map((i, n) => `${first + n + 1}. ${incidentLine(i)}`);
  return [title, '', ...lines, '', pageFooter(p)].join('\n');
}

export const markdownReplies: Replies = {
  help: (commands) => ({ markdown: helpMarkdown(commands) }),
  huntStatus: (status) => ({ markdown: huntStatusMarkdown(status) }),
  incidentList: (page) => ({ markdown: incidentListMarkdown(page) }),
  incidentClosed: (i, reason) => {
    const url = link('incident in XDR', i.url);
    return {
      markdown:
        `Closed the incident for ${code(i.targetValue)} (${plural(i.count, 'sighting')}, last seen ${when(i.lastSeen)})` +
        `${reason ? ` — reason: ${md(reason)}` : ''}.${url ? ` ${url}` : ''}`,
    };
  },
  incidentAlreadyClosed: (i, open) => {
    const closed = `The incident ${code(i.id)} for ${code(i.targetValue)} is already closed (${md(i.status)}); I did not close anything.`;
    if (!open) return { markdown: `${closed} Its target has no open incident.` };
    return {
      markdown:
        `${closed} Its target has a newer open incident, ${code(open.id)} (${plural(open.count, 'sighting')}, last seen ${when(open.lastSeen)}). ` +
        `To close that one too, type ${code(`close ${open.id}`, 200)}.`,
    };
  },
  sightings: (incidentId, list) => {
    if (list.length === 0) return { markdown: `No sightings recorded for incident ${code(incidentId)}.` };
    const lines = list.map((s) => `- ${when(s.observedAt)} — ${code(s.ioc)} from ${md(s.source)}`);
    return { markdown: [`**Latest sightings of incident ${code(incidentId)}**`, '', ...lines].join('\n') };
  },
};
