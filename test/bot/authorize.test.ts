import { describe, expect, it } from 'vitest';
import { authorize, roomTitleLookup } from '../../src/bot/authorize.js';
import { findCommand } from '../../src/bot/commands/table.js';
import { ADMIN, ANALYST, ask, harness } from './fakes.js';

const close = findCommand('close');
if (!close) throw new Error('close is in the table');

describe('admin-only commands', () => {
  it('refuse a non-admin politely, naming what is missing, and run nothing', async () => {
    const h = harness();
    expect(await ask(h, 'hunt now', { personEmail: ANALYST })).toBe('Only Sightline admins can start hunts; ask an admin or get added to WEBEX_ADMINS.');
    expect(await ask(h, 'close host-1', { personEmail: ANALYST })).toBe(
      'Only Sightline admins can close incidents; ask an admin or get added to WEBEX_ADMINS.',
    );
    expect(h.hunts.calls).toEqual([]);
    expect(h.incidents.calls).toEqual([]);
  });

  it('match admin e-mails case-insensitively', async () => {
    const h = harness({ admins: ['Alice@SOC.example.com'] });
    expect(await ask(h, 'hunt now', { personEmail: ADMIN })).toContain('Hunt started');
  });

  it('are refused for everyone while WEBEX_ADMINS is empty, telling the operator to set it', async () => {
    const h = harness({ admins: [] });
    expect(await ask(h, 'hunt blog https://raw.githubusercontent.com/x.json')).toBe(
      'Only Sightline admins can start hunts, and none are configured; ask the operator to set WEBEX_ADMINS.',
    );
    expect(h.hunts.calls).toEqual([]);
    // Read-only commands still work.
    expect(await ask(h, 'incidents')).toContain('Open incidents');
  });

  it('leave read-only commands to everyone allowed in', async () => {
    const h = harness();
    expect(await ask(h, 'hunt status', { personEmail: ANALYST })).toContain('**Hunt status**');
  });
});

describe('domains', () => {
  it('refuse senders outside the allowed domains, for every command, without listing the domains', async () => {
    const h = harness({ allowedDomains: ['soc.example.com'] });
    for (const text of ['help', 'incidents', 'nonsense']) {
      const reply = await ask(h, text, { personEmail: 'mallory@elsewhere.example' });
      expect(reply).toBe(
        'Sightline only takes commands from people in its allowed e-mail domains; ask a Sightline admin to add yours to WEBEX_ALLOWED_DOMAINS.',
      );
      expect(reply).not.toContain('soc.example.com');
    }
    expect(h.incidents.calls).toEqual([]);
    expect(await ask(h, 'help', { personEmail: ANALYST })).toContain('Sightline commands');
  });

  it('match exactly (no subdomain or suffix tricks), ignoring case and a leading @', async () => {
    const policy = { allowedRooms: [], allowedDomains: ['@SOC.example.com'], admins: [] };
    const verdict = async (email: string) => (await authorize({ roomId: 'r', personEmail: email }, undefined, policy)).allowed;
    expect(await verdict('a@soc.example.com')).toBe(true);
    expect(await verdict('a@SOC.EXAMPLE.COM')).toBe(true);
    expect(await verdict('a@evilsoc.example.com')).toBe(false);
    expect(await verdict('a@x.soc.example.com')).toBe(false);
    expect(await verdict('soc.example.com')).toBe(false);
  });
});

describe('rooms', () => {
  // Decision (src/bot/authorize.ts): disallowed rooms are answered with one sentence, group and 1:1 alike.
  it('refuse commands from rooms that are not allowed, with one sentence, in group and 1:1 rooms', async () => {
    const h = harness({ allowedRooms: ['room-soc'] });
    const refusal = "Sightline doesn't take commands in this space; ask a Sightline admin to add it to WEBEX_ALLOWED_ROOMS, or use one of the allowed spaces.";
    expect(await ask(h, 'incidents', { roomId: 'room-random' })).toBe(refusal);
    expect(await ask(h, 'incidents', { roomId: 'room-dm', roomType: 'direct' })).toBe(refusal);
    expect(h.incidents.calls).toEqual([]);
    expect(await ask(h, 'incidents', { roomId: 'room-soc' })).toContain('Open incidents');
  });

  it('accept rooms listed by title, resolved through the bot’s room list (case-insensitive)', async () => {
    const h = harness({ allowedRooms: ['SOC Analysts'] });
    h.api.rooms = [
      { id: 'room-a', title: 'soc analysts', type: 'group' },
      { id: 'room-b', title: 'Lunch', type: 'group' },
    ];
    expect(await ask(h, 'hunt status', { roomId: 'room-a' })).toContain('**Hunt status**');
    expect(await ask(h, 'hunt status', { roomId: 'room-b' })).toContain("doesn't take commands in this space");
    expect(await ask(h, 'hunt status', { roomId: 'room-a' })).toContain('**Hunt status**');
    expect(h.api.listRoomsCalls).toBe(1); // one listing learnt both rooms
    expect(await ask(h, 'hunt status', { roomId: 'room-new' })).toContain("doesn't take commands in this space");
    expect(h.api.listRoomsCalls).toBe(2); // an id missing from the cache re-reads the list
  });

  it('say so when the room cannot be checked, instead of calling the room disallowed', async () => {
    const policy = { allowedRooms: ['SOC'], allowedDomains: [], admins: [] };
    const decision = await authorize({ roomId: 'r', personEmail: ADMIN }, close, policy, async () => {
      throw new Error('webex down');
    });
    expect(decision).toMatchObject({ allowed: false, reason: 'room_unchecked' });
  });

  it('roomTitleLookup shares one listing between concurrent callers', async () => {
    let listings = 0;
    const lookup = roomTitleLookup({
      async *listRooms() {
        listings++;
        yield { id: 'r1', title: 'One', type: 'group' as const };
      },
    });
    expect(await Promise.all([lookup('r1'), lookup('r1'), lookup('r2')])).toEqual(['One', 'One', undefined]);
    expect(listings).toBe(1);
  });
});
