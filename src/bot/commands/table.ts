import { z } from 'zod';
import { UriRefusedError } from '../../core/errors.js';
import type { HuntStatus, IncidentFilter } from '../../domain/ports/services.js';
import { commandInfo, defineCommand, type Command, type CommandContext } from './command.js';
import { sentence } from '../../notify/markdown.js';
import { code, md, when } from './format.js';
import { freshView, outboxCommand, withOutboxLine } from './outbox-view.js';
import { actions, investigate } from './investigate.js';
import { pageCount } from './replies.js';
import { pageNumber } from './args.js';

/**
 * Sightline's chat commands, as data (STYLE.md §6). Patterns run against the
 * normalised text (trimmed, single spaces, no leading `/`) and are
 * case-insensitive; they capture raw arguments loosely so that `args` can say
 * precisely what is wrong with them. Order matters: the first match wins.
 */
export const INCIDENTS_PAGE_SIZE = 10;

const noArguments = (usage: string) => z.object({ extra: z.undefined({ error: `${usage} takes no arguments` }).optional() });

function alreadyRunning(running: HuntStatus['running']): string {
  if (!running) return 'A hunt is already running; `hunt status` shows its progress.';
  if (running.onAnotherInstance) return 'A hunt is already running on another Sightline instance; try again when it has finished (`hunt status` says when nothing runs).';
  return (
    `A hunt is already running (${md(running.label)}: ${running.threatsDone}/${running.threatsTotal} threats done, ` +
    `started ${when(running.startedAt)}); \`hunt status\` shows its progress.`
  );
}

/** The running hunt's label, for the confirmation; a failing status() must not hide that the hunt started. */
async function runningLabel(ctx: CommandContext): Promise<string | undefined> {
  try {
    return (await ctx.hunts.status()).running?.label;
  } catch {
    return undefined;
  }
}

const help = defineCommand({
  name: 'help',
  pattern: /^(?:help|\?)(?:\s+(?<topic>.*))?$/i,
  args: z.object({ topic: z.string().optional() }),
  adminOnly: false,
  usage: 'help',
  help: 'Show this list of commands.',
  handler: async (_args, ctx) => ctx.replies.help(ctx.commands.map(commandInfo)),
});

const huntNow = defineCommand({
  name: 'hunt now',
  pattern: /^hunt\s+now(?:\s+(?<extra>.*))?$/i,
  args: noArguments('`hunt now`'),
  adminOnly: true,
  adminAction: 'start hunts',
  usage: 'hunt now',
  help: "Hunt this week's Talos Threat Roundup now instead of waiting for the schedule.",
  handler: async (_args, ctx) => {
    const result = await ctx.hunts.runThisWeek(ctx.sender.email);
    if (!result.started) return { markdown: alreadyRunning(result.alreadyRunning) };
    const label = await runningLabel(ctx);
    const what = label ? `for the week of ${md(label)}` : code(result.huntId);
    return { markdown: `Hunt started ${what}; cards will follow in **${md(ctx.huntRoomTitle)}**.` };
  },
});

const huntUri = z
  .string({ error: 'give the address of a roundup file, e.g. `hunt blog https://…/0723.json`' })
  // Webex clients sometimes keep the <…> around a pasted link.
  .transform((s) => s.replace(/^<(.*)>$/, '$1'))
  .refine((s) => /^https?:\/\/[^\s/]+/i.test(s) && URL.canParse(s), { error: 'the address must be an http(s) URL' });

const huntBlog = defineCommand({
  name: 'hunt blog',
  pattern: /^hunt\s+blog(?:\s+(?<uri>\S+))?(?:\s+(?<extra>.*))?$/i,
  args: z.object({ uri: huntUri, extra: z.undefined({ error: 'give exactly one address' }).optional() }),
  adminOnly: true,
  adminAction: 'start hunts',
  usage: 'hunt blog <uri>',
  help: 'Hunt the IOCs of one Talos roundup file, IOC file, github.com/Cisco-Talos/IOCs/tree/main/YYYY/MM folder or blog post (allowed hosts only).',
  handler: async ({ uri }, ctx) => {
    try {
      const result = await ctx.hunts.runUri(uri, ctx.sender.email);
      if (!result.started) return { markdown: alreadyRunning(result.alreadyRunning) };
      return { markdown: `Hunt of ${code(uri, 200)} started; cards will follow in **${md(ctx.huntRoomTitle)}**.` };
    } catch (err) {
      if (err instanceof UriRefusedError) return { markdown: `I won't hunt ${code(uri, 200)}: ${sentence(err.userMessage)}` };
      throw err;
    }
  },
});

const huntStatus = defineCommand({
  name: 'hunt status',
  pattern: /^hunt\s+status(?:\s+(?<extra>.*))?$/i,
  args: noArguments('`hunt status`'),
  adminOnly: false,
  usage: 'hunt status',
  help: 'Show the running, last and next hunt, pending retries and each Talos source\'s cursor.',
  handler: async (_args, ctx) => withOutboxLine(ctx.replies.huntStatus(await ctx.hunts.status()), await freshView(ctx.outbox)),
});

const incidentsArgs = z.preprocess(
  // `incidents 2` means page 2 of the open incidents.
  (g) => {
    const groups = g as { filter?: string; page?: string; extra?: string };
    return groups.page === undefined && groups.filter !== undefined && /^\d+$/.test(groups.filter)
      ? { ...groups, filter: undefined, page: groups.filter }
      : groups;
  },
  z.object({
    filter: z
      .string()
      .transform((s) => s.toLowerCase())
      .pipe(z.enum(['open', 'closed', 'all'], { error: 'the filter must be open, closed or all' }))
      .optional()
      .transform((f): IncidentFilter => f ?? 'open'),
    page: pageNumber,
    extra: z.undefined({ error: 'give at most a filter and a page' }).optional(),
  }),
);

const incidents = defineCommand({
  name: 'incidents',
  pattern: /^incidents?(?:\s+(?<filter>\S+))?(?:\s+(?<page>\S+))?(?:\s+(?<extra>.*))?$/i,
  args: incidentsArgs,
  adminOnly: false,
  usage: 'incidents [open|closed|all] [page]',
  help: `List incidents, ${INCIDENTS_PAGE_SIZE} per page (open ones by default).`,
  handler: async ({ filter, page }, ctx) => {
    const { items, total } = await ctx.incidents.list(filter, page, INCIDENTS_PAGE_SIZE);
    const pages = pageCount(total, INCIDENTS_PAGE_SIZE);
    if (total > 0 && page > pages) {
      return { markdown: `There ${pages === 1 ? 'is only 1 page' : `are only ${pages} pages`} of ${filter} incidents; try ${code(`incidents ${filter} ${pages}`)}.` };
    }
    return ctx.replies.incidentList({ filter, items, page, pageSize: INCIDENTS_PAGE_SIZE, total });
  },
});

/** Shared with the card's Close button, which sends `{ target, reason? }`. */
export const closeArgs = z
  .object({
    quoted: z.string().optional(),
    target: z.string({ error: 'the target must be text' }).optional(),
    reason: z.string({ error: 'the reason must be text' }).optional(),
  })
  .transform((g) => ({ target: (g.quoted ?? g.target ?? '').trim(), reason: g.reason?.trim() || undefined }))
  .refine((a) => a.target.length > 0, { error: 'say which target to close, e.g. `close host-42`' })
  .refine((a) => a.target.length <= 512 && (a.reason?.length ?? 0) <= 1000, { error: 'the target or reason is too long' });

const close = defineCommand({
  name: 'close',
  pattern: /^close(?:\s+(?:"(?<quoted>[^"]*)"|(?<target>\S+)))?(?:\s+(?<reason>.*))?$/i,
  args: closeArgs,
  adminOnly: true,
  adminAction: 'close incidents',
  usage: 'close <target> [reason…]',
  help: 'Close the open incident of a target (quote targets with spaces: `close "my host" false positive`).',
  handler: async ({ target, reason }, ctx) => {
    const incident = await ctx.incidents.close(target, ctx.sender.email, reason);
    return ctx.replies.incidentClosed(incident, reason);
  },
});

export const COMMANDS: readonly Command[] = [help, huntNow, huntBlog, huntStatus, incidents, close, investigate, actions, outboxCommand];

export function findCommand(name: string, table: readonly Command[] = COMMANDS): Command | undefined {
  return table.find((c) => c.name === name);
}
