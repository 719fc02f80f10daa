import { describe, expect, it } from 'vitest';
import { parseCardAction } from '../../src/bot/commands/card-actions.js';
import { implicitInvestigation } from '../../src/bot/commands/investigate.js';
import { parseCommand } from '../../src/bot/commands/parse.js';
import { COMMANDS } from '../../src/bot/commands/table.js';

const parse = (text: string) => implicitInvestigation(parseCommand(text, COMMANDS), COMMANDS);

describe('investigate in the command table', () => {
  it('takes `investigate <text>` with the text as typed, and refuses it empty with a hint', () => {
    expect(parse('investigate evil[.]example and 1.2.3.4')).toMatchObject({ kind: 'ok', command: { name: 'investigate' }, args: { text: 'evil[.]example and 1.2.3.4' } });
    expect(parse('investigate')).toMatchObject({ kind: 'malformed', problem: expect.stringContaining('investigate evil[.]example') });
  });

  it('a message that is only IOCs (or a pasted block with some) is investigated; other unknown text is not', () => {
    expect(parse('hxxps://bad[.]example/x.zip')).toMatchObject({ kind: 'ok', command: { name: 'investigate' } });
    expect(parse('Forwarded: the sender used 203.0.113.9 and mail@bad.example')).toMatchObject({ kind: 'ok', command: { name: 'investigate' } });
    expect(parse('hunt nwo')).toMatchObject({ kind: 'unknown' });
    expect(parse('thanks, that was quick')).toMatchObject({ kind: 'unknown' });
    // A real command is never taken for an investigation.
    expect(parse('close host.example.com')).toMatchObject({ kind: 'ok', command: { name: 'close' } });
  });

  it('`actions [page]` validates its page', () => {
    expect(parse('actions')).toMatchObject({ kind: 'ok', args: { page: 1 } });
    expect(parse('actions 3')).toMatchObject({ kind: 'ok', args: { page: 3 } });
    expect(parse('actions zero')).toMatchObject({ kind: 'malformed' });
  });

  it('action buttons map to admin-only card commands; a button without its id is refused with a sentence', () => {
    const ask = parseCardAction({ action: 'xdr_action', offer: 'o-1', thread: 'm-1' }, COMMANDS);
    expect(ask).toMatchObject({ kind: 'ok', command: { name: 'response action', adminOnly: true }, args: { offer: 'o-1', thread: 'm-1' } });
    expect(parseCardAction({ action: 'xdr_action_confirm', confirmation: 'c-1' }, COMMANDS)).toMatchObject({ kind: 'ok', command: { adminOnly: true } });
    expect(parseCardAction({ action: 'xdr_action_cancel', confirmation: 'c-1' }, COMMANDS)).toMatchObject({ kind: 'ok' });
    expect(parseCardAction({ action: 'xdr_action' }, COMMANDS)).toMatchObject({ kind: 'invalid', message: expect.stringContaining('which action') });
  });
});
