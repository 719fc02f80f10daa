import { describe, expect, it } from 'vitest';
import { normalize, parseCommand, parseWithoutMention } from '../../src/bot/commands/parse.js';
import { editDistance, suggestCommands } from '../../src/bot/commands/suggest.js';
import { COMMANDS } from '../../src/bot/commands/table.js';

describe('normalize', () => {
  it('trims, collapses whitespace, drops invisible characters and a leading slash', () => {
    expect(normalize('  /hunt \t\n  now \u200B')).toBe('hunt now');
    expect(normalize('//  help')).toBe('help');
    expect(normalize('\u00A0')).toBe('');
  });
});

describe('parseCommand', () => {
  it('keeps the case of arguments while matching the command case-insensitively', () => {
    const parsed = parseCommand('CLOSE Host-7 Patched On Monday', COMMANDS);
    expect(parsed).toMatchObject({ kind: 'ok', command: { name: 'close' }, args: { target: 'Host-7', reason: 'Patched On Monday' } });
  });

  it('does not take a longer word for a command ("closed", "helpme")', () => {
    expect(parseCommand('closed', COMMANDS).kind).toBe('unknown');
    expect(parseCommand('helpme', COMMANDS).kind).toBe('unknown');
    expect(parseCommand('hunt nowhere', COMMANDS).kind).toBe('unknown');
  });
});

describe('parseWithoutMention', () => {
  it('strips the bot’s display name, its first word, or an @name — only when the rest is a command', () => {
    const names = ['Hunt Bot'];
    expect(parseWithoutMention('Hunt Bot hunt now', COMMANDS, names)).toMatchObject({ kind: 'ok', command: { name: 'hunt now' } });
    expect(parseWithoutMention('@hunt incidents all', COMMANDS, names)).toMatchObject({ kind: 'ok', command: { name: 'incidents' } });
    expect(parseWithoutMention('Hunt Bot', COMMANDS, names)).toEqual({ kind: 'empty' });
    expect(parseWithoutMention('hunt nwo', COMMANDS, names)).toEqual({ kind: 'unknown', text: 'hunt nwo' });
    expect(parseWithoutMention('please hunt now', COMMANDS, names)).toEqual({ kind: 'unknown', text: 'please hunt now' });
  });
});

describe('suggestions', () => {
  it('counts a swap of two letters as one edit', () => {
    expect(editDistance('hunt nwo', 'hunt now')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('offers typos first, then prefixes, then the command family', () => {
    const names = (text: string) => suggestCommands(text, COMMANDS).map((c) => c.name);
    expect(names('hlep')).toEqual(['help']);
    expect(names('hunt stauts')).toEqual(['hunt status']);
    expect(names('inc')).toEqual(['incidents']);
    expect(names('clos host-1')).toEqual(['close']);
    expect(names('hunt yesterday')).toEqual(['hunt now', 'hunt blog', 'hunt status']);
    expect(names('banana')).toEqual([]);
  });
});
