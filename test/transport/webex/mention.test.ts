import { describe, expect, it } from 'vitest';
import { mentionsBot, normalizeWhitespace, stripMention } from '../../../src/transport/webex/mention.js';

describe('stripMention', () => {
  it('removes the bot display name Webex puts first', () => {
    expect(stripMention('Sightline hunt now', 'Sightline')).toBe('hunt now');
    expect(stripMention('  sightline,  status', 'Sightline')).toBe('status');
    expect(stripMention('@Sightline close 1.2.3.4', 'Sightline')).toBe('close 1.2.3.4');
  });

  it('removes a full multi-word name, or a mention shortened to the first name', () => {
    expect(stripMention('Sightline Bot incidents open', 'Sightline Bot')).toBe('incidents open');
    expect(stripMention('Sightline incidents open', 'Sightline Bot')).toBe('incidents open');
  });

  it('leaves text alone when it does not start with the mention', () => {
    expect(stripMention('Sightlines are nice', 'Sightline')).toBe('Sightlines are nice');
    expect(stripMention('hunt now', 'Sightline')).toBe('hunt now');
    expect(stripMention('Sightline', 'Sightline')).toBe('');
  });

  it('keeps line breaks after the mention', () => {
    expect(stripMention('Sightline hunt\n1.2.3.4\nevil.example', 'Sightline')).toBe('hunt\n1.2.3.4\nevil.example');
  });
});

describe('helpers', () => {
  it('normalizes whitespace and detects mentions', () => {
    expect(normalizeWhitespace(' a \n\n b\tc ')).toBe('a b c');
    expect(mentionsBot({ mentionedPeople: ['x', 'bot'] }, 'bot')).toBe(true);
    expect(mentionsBot({}, 'bot')).toBe(false);
  });
});
