import { describe, expect, it } from 'vitest';
import { NotFoundError } from '../../src/core/errors.js';
import { harness, message } from './fakes.js';

describe('error sentences that quote what was typed reach the room inert (issue 17 items 3, 4, 6)', () => {
  it('a close of a hostile target answers without a mention, a link or a line break', async () => {
    const h = harness();
    const typed = '<@all>[Reset](https://evil.example/login)\rx';
    h.incidents.closeError = new NotFoundError(`No open incident for ${typed}: try \`incidents\` to see open ones`);
    await h.bot.handle(message(`close "${typed}"`));
    const reply = h.api.texts[0]!;
    expect(reply).toContain('No open incident for');
    expect(reply).not.toMatch(/<\s*@/);
    expect(reply).not.toMatch(/(?<!\\)\]\(/);
    expect(reply).not.toContain('https://');
    expect(reply).not.toContain('\r');
    expect(reply).toContain('`incidents`');
  });
});
