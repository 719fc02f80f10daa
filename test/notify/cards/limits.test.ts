import MarkdownIt from 'markdown-it';
import { describe, expect, it } from 'vitest';
import { code, md, mdLink, safeUrl } from '../../../src/notify/cards/elements.js';
import { andMore, byteLength, cutList, fitMessage, MAX_CARD_BYTES, MAX_TEXT_BYTES, truncateBytes } from '../../../src/notify/cards/limits.js';

describe('truncateBytes', () => {
  it('leaves short text alone', () => {
    expect(truncateBytes('Win.Dropper.Kovter-9879707-1')).toBe('Win.Dropper.Kovter-9879707-1');
  });

  it('cuts on a character boundary, ends with "…" and stays within the byte budget', () => {
    const text = 'é€😀'.repeat(5000);
    const cut = truncateBytes(text);
    expect(byteLength(cut)).toBeLessThanOrEqual(MAX_TEXT_BYTES);
    expect(cut.endsWith('…')).toBe(true);
    expect(cut).not.toContain('\uFFFD');
    expect(text.startsWith(cut.slice(0, -1))).toBe(true);
  });
});

describe('lists', () => {
  it('cuts a list and says how many were left out, with a link when there is one', () => {
    expect(cutList([1, 2, 3, 4, 5], 2)).toEqual({ shown: [1, 2], more: 3 });
    expect(andMore(3)).toBe('and 3 more');
    expect(andMore(3, mdLink('open the casebook', 'https://example.com/c'))).toBe('and 3 more — [open the casebook](https://example.com/c)');
  });
});

describe('fitMessage', () => {
  it('shrinks the list budget until the card fits', () => {
    const budgets: number[] = [];
    const out = fitMessage((budget) => {
      budgets.push(budget);
      return { markdown: 'x', card: { body: 'y'.repeat(budget * 1000) } };
    });
    expect(byteLength(JSON.stringify(out.card))).toBeLessThanOrEqual(MAX_CARD_BYTES);
    expect(budgets.slice(0, 3)).toEqual([50, 25, 12]);
    expect(out.card).toEqual({ body: 'y'.repeat(12_000) });
  });

  it('drops a card that can never fit but keeps (truncated) markdown', () => {
    const out = fitMessage(() => ({ markdown: 'z'.repeat(20_000), card: { body: 'y'.repeat(20_000) } }));
    expect(out.card).toBeUndefined();
    expect(byteLength(out.markdown)).toBeLessThanOrEqual(MAX_TEXT_BYTES);
    expect(out.markdown.endsWith('…')).toBe(true);
  });
});

describe('markdown escaping', () => {
  // Worst case: a renderer that passes HTML through. Escaped text must still come out as text.
  const render = (s: string) => new MarkdownIt({ html: true }).renderInline(s);

  it('shows markup, emphasis and links from outside as typed', () => {
    const hostile = 'Zegost, also known as "Zusy," <script>alert(1)</script> *bold* _it_ [x](javascript:alert(1)) `tick`';
    const html = render(md(hostile));
    expect(html).not.toMatch(/<script|<em>|<strong>|<a |<code>/);
    expect(html).toContain('&lt;script&gt;');
    expect(html).toContain('&quot;Zusy,&quot;');
  });

  it('keeps intra-word underscores readable', () => {
    expect(md('amp_computer_guid')).toBe('amp_computer_guid');
    expect(render(md('_x_'))).toBe('_x_');
  });

  it('wraps any value in a code span it cannot escape from', () => {
    expect(render(code('a`b'))).toBe('<code>a`b</code>');
    expect(render(code('`x`'))).toBe('<code>`x`</code>');
  });

  it('links only http(s) URLs', () => {
    expect(safeUrl('javascript:alert(1)')).toBeUndefined();
    expect(safeUrl('%APPDATA%\\Microsoft\\Xtuou')).toBeUndefined();
    expect(mdLink('casebook', 'https://example.com/a(b)')).toBe('[casebook](https://example.com/a%28b%29)');
  });
});
