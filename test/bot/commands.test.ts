import { describe, expect, it } from 'vitest';
import { NotFoundError, UriRefusedError } from '../../src/core/errors.js';
import { COMMANDS } from '../../src/bot/commands/table.js';
import { ADMIN, ask, harness, incident, message } from './fakes.js';

describe('help', () => {
  it('lists every command of the table with its usage, marking admin-only ones', async () => {
    const h = harness();
    const reply = await ask(h, 'help');
    for (const c of COMMANDS) {
      expect(reply).toContain(`- \`${c.usage}\` — ${c.help}`);
    }
    expect(reply).toMatch(/`close <target> \[reason…\]` — .*\*\(admins only\)\*/);
    expect(reply).not.toMatch(/`hunt status` — .*admins only/);
  });

  it('is case-insensitive and tolerates a leading slash and extra whitespace', async () => {
    const h = harness();
    const plain = await ask(h, 'help');
    expect(await ask(h, '  /HELP  ')).toBe(plain);
    expect(await ask(h, '\u200B Help\n')).toBe(plain);
  });

  it('greets an empty message (only a mention) with a pointer to help', async () => {
    const h = harness();
    expect(await ask(h, '   ')).toBe('Hi! Type `help` to see what I can do.');
  });
});

describe('hunt now', () => {
  it("starts this week's hunt as the sender and names the week and the room", async () => {
    const h = harness();
    const reply = await ask(h, 'hunt   now');
    expect(h.hunts.calls[0]).toEqual({ method: 'runThisWeek', args: [ADMIN] });
    expect(reply).toBe('Hunt started for the week of 2026-11-20; cards will follow in **TALOS ROUNDUP Investigation**.');
  });

  it('says a hunt is already running, with its progress and start time', async () => {
    const h = harness();
    h.hunts.running = { id: 'h0', label: '2026-11-13', startedAt: '2026-11-25T11:58:00Z', threatsDone: 3, threatsTotal: 12 };
    const reply = await ask(h, 'Hunt Now');
    expect(reply).toBe('A hunt is already running (2026-11-13: 3/12 threats done, started 2026-11-25 11:58 UTC); `hunt status` shows its progress.');
  });

  it('refuses arguments with the usage line', async () => {
    const h = harness();
    const reply = await ask(h, 'hunt now please');
    expect(reply).toBe('`hunt now please` isn\'t quite right: `hunt now` takes no arguments. Usage: `hunt now`');
    expect(h.hunts.calls).toEqual([]);
  });
});

describe('hunt blog', () => {
  const uri = 'https://raw.githubusercontent.com/Cisco-Talos/Threat-Round-Up/main/2021/0723.json';

  it('hunts the given URI, keeping its case', async () => {
    const h = harness();
    const reply = await ask(h, `HUNT BLOG <${uri}>`);
    expect(h.hunts.calls[0]).toEqual({ method: 'runUri', args: [uri, ADMIN] });
    // Echoed back defanged: a URL in a reply is text, never a link the bot did not build.
    expect(reply).toContain('Hunt of `hxxps://raw[.]githubusercontent[.]com/Cisco-Talos/Threat-Round-Up/main/2021/0723.json` started');
  });

  it('gives the reason when the URI is refused', async () => {
    const h = harness();
    h.hunts.runUriError = new UriRefusedError('evil.example is not an allowed Talos host; allowed: raw.githubusercontent.com.');
    const reply = await ask(h, 'hunt blog https://evil.example/x.json');
    expect(reply).toBe('I won\'t hunt `hxxps://evil[.]example/x.json`: evil.example is not an allowed Talos host; allowed: raw.githubusercontent.com.');
  });

  it('asks for the URI when it is missing or not a URL', async () => {
    const h = harness();
    expect(await ask(h, 'hunt blog')).toMatch(/^`hunt blog` isn't quite right: give the address of a roundup file.*Usage: `hunt blog <uri>`$/);
    expect(await ask(h, 'hunt blog banana')).toBe("`hunt blog banana` isn't quite right: the address must be an http(s) URL. Usage: `hunt blog <uri>`");
    expect(h.hunts.calls).toEqual([]);
  });
});

describe('hunt status', () => {
  it('shows running, last and next run, the pending retry and the cursor', async () => {
    const h = harness({ admins: [] });
    h.hunts.current = {
      last: { id: 'h9', label: '2026-11-13', status: 'finished', startedAt: '2026-11-14T02:00:00Z', finishedAt: '2026-11-14T02:40:00Z', summary: '3 targets' },
      nextRun: '2026-11-28T02:00:00Z',
      pendingRetry: { week: '2026-11-20', attempt: 2, maxAttempts: 6, nextAttemptAt: '2026-11-25T14:00:00Z' },
      cursorUrlId: 4242,
    };
    const reply = await ask(h, 'hunt status');
    expect(reply).toContain('- Running: none');
    expect(reply).toContain('- Last run: 2026-11-13 — finished, started 2026-11-14 02:00 UTC, finished 2026-11-14 02:40 UTC (3 targets)');
    expect(reply).toContain('- Next scheduled run: 2026-11-28 02:00 UTC');
    expect(reply).toContain('- Pending retry: week 2026-11-20, attempt 2 of 6, next at 2026-11-25 14:00 UTC');
    expect(reply).toContain('- Roundup cursor: URL id 4242');
  });
});

describe('incidents', () => {
  function withIncidents(n: number) {
    const h = harness();
    h.incidents.all = Array.from({ length: n }, (_, i) => incident(i + 1, { status: i % 5 === 4 ? 'closed' : 'open' }));
    return h;
  }

  it('lists open incidents, 10 a page, with target, count, last seen, link and the next-page hint', async () => {
    const h = withIncidents(30); // 24 open
    const reply = await ask(h, 'incidents');
    expect(h.incidents.calls[0]).toEqual({ method: 'list', args: ['open', 1, 10] });
    expect(reply).toContain('**Open incidents** (24)');
    expect(reply).toContain('1. `host-1` (hostname) — 2 sightings, last seen 2026-11-24 09:30 UTC — [open in XDR](https://visibility.amp.cisco.com/incidents?q=id:incident-1#summary)');
    expect(reply.match(/^\d+\. /gm)).toHaveLength(10);
    expect(reply).toContain('Page 1 of 3; `incidents open 2` for more.');
  });

  it('takes a filter and a page, or a page alone', async () => {
    const h = withIncidents(30);
    expect(await ask(h, 'INCIDENTS ALL 3')).toContain('Page 3 of 3.');
    expect(h.incidents.calls.at(-1)).toEqual({ method: 'list', args: ['all', 3, 10] });
    expect(await ask(h, 'incidents 2')).toContain('11. ');
    expect(h.incidents.calls.at(-1)).toEqual({ method: 'list', args: ['open', 2, 10] });
    expect(await ask(h, 'incidents closed')).toContain('**Closed incidents** (6)');
  });

  it('says how many pages there are when asked for one past the end, and when there are none', async () => {
    const h = withIncidents(15); // 12 open
    expect(await ask(h, 'incidents open 7')).toBe('There are only 2 pages of open incidents; try `incidents open 2`.');
    expect(await ask(harness(), 'incidents')).toBe('**Open incidents** (0)\n\nNo open incidents.');
  });

  it('answers malformed arguments with the usage and what was wrong', async () => {
    const h = harness();
    expect(await ask(h, 'incidents banana')).toBe(
      "`incidents banana` isn't quite right: the filter must be open, closed or all. Usage: `incidents [open|closed|all] [page]`",
    );
    expect(await ask(h, 'incidents open two')).toContain('the page must be a whole number, like 2');
    expect(await ask(h, 'incidents open 0')).toContain('pages start at 1');
    expect(await ask(h, 'incidents open 2 3')).toContain('give at most a filter and a page');
    expect(h.incidents.calls).toEqual([]);
  });
});

describe('close', () => {
  it('closes the target with the reason and confirms with the incident link', async () => {
    const h = harness();
    h.incidents.all = [incident(7)];
    const reply = await ask(h, 'Close host-7 false positive, test box');
    expect(h.incidents.calls[0]).toEqual({ method: 'close', args: ['host-7', ADMIN, 'false positive, test box'] });
    expect(reply).toBe(
      'Closed the incident for `host-7` (8 sightings, last seen 2026-11-24 09:30 UTC) — reason: false positive, test box. ' +
        '[incident in XDR](https://visibility.amp.cisco.com/incidents?q=id:incident-7#summary)',
    );
  });

  it('accepts a quoted target with spaces and no reason', async () => {
    const h = harness();
    await ask(h, 'close "Alice laptop"');
    expect(h.incidents.calls[0]).toEqual({ method: 'close', args: ['Alice laptop', ADMIN, undefined] });
  });

  it('passes on the service’s sentence when nothing is open for the target', async () => {
    const h = harness();
    h.incidents.closeError = new NotFoundError('No open incident for host-404; `incidents open` lists the open ones.');
    expect(await ask(h, 'close host-404')).toBe('No open incident for host-404; `incidents open` lists the open ones.');
  });

  it('asks which target when none is given', async () => {
    const h = harness();
    expect(await ask(h, 'close')).toBe("`close` isn't quite right: say which target to close, e.g. `close host-42`. Usage: `close <target> [reason…]`");
  });
});

describe('unknown commands', () => {
  it('suggests the closest command', async () => {
    const h = harness();
    expect(await ask(h, 'hunt nwo')).toBe("I don't know `hunt nwo`. Did you mean `hunt now`? Type `help` for all commands.");
    expect(await ask(h, 'incidnets open')).toBe("I don't know `incidnets open`. Did you mean `incidents [open|closed|all] [page]`? Type `help` for all commands.");
    expect(await ask(h, 'hunt')).toBe("I don't know `hunt`. Did you mean `hunt now`, `hunt blog <uri>` or `hunt status`? Type `help` for all commands.");
  });

  it('has no suggestion for text far from any command', async () => {
    const h = harness();
    expect(await ask(h, 'what is the weather')).toBe("I don't know `what is the weather`. Type `help` for all commands.");
  });

  it('strips a bot name the transport left in the text, but no other words', async () => {
    const h = harness();
    expect(await ask(h, 'Sightline Bot hunt status')).toContain('**Hunt status**');
    expect(await ask(h, 'Sightline incidents')).toContain('**Open incidents**');
    expect(await ask(h, "don't hunt now")).toContain("I don't know");
    expect(h.hunts.calls.filter((c) => c.method === 'runThisWeek')).toEqual([]);
  });

  it('answers in a thread under the command in group rooms, and inline in 1:1 rooms', async () => {
    const h = harness();
    await h.bot.handle(message('help', { messageId: 'cmd-1', roomType: 'group' }));
    await h.bot.handle(message('help', { messageId: 'cmd-2', roomType: 'group', parentId: 'root-0' }));
    await h.bot.handle(message('help', { messageId: 'cmd-3', roomType: 'direct', roomId: 'room-dm' }));
    expect(h.api.posted.map((m) => [m.roomId, m.parentId])).toEqual([
      ['room-soc', 'cmd-1'],
      ['room-soc', 'root-0'],
      ['room-dm', undefined],
    ]);
  });
});
