import { describe, expect, it } from 'vitest';
import { defang, inert, noMentions, visible } from '../../src/notify/inert.js';
import { code, markup, md, sentence } from '../../src/notify/markdown.js';

describe('visible(): control and invisible characters', () => {
  it('turns every kind of line break and tab into a space, also a lone \\r', () => {
    expect(visible('AMP\r\r# ALL HOSTS\n> x\u2028y\u2029z\u0085w\tv\vu\ft')).toBe('AMP # ALL HOSTS > x y z w v u t');
  });
  it('shows zero-width, bidi, C0/C1, BOM, tag characters and lone surrogates as ⟨U+XXXX⟩', () => {
    expect(visible('desktop\u200b-1')).toBe('desktop⟨U+200B⟩-1');
    expect(visible('a\u202eb\u2066c\u0000d\u001be\u009bf\ufeffg\u00adh')).toBe('a⟨U+202E⟩b⟨U+2066⟩c⟨U+0000⟩d⟨U+001B⟩e⟨U+009B⟩f⟨U+FEFF⟩g⟨U+00AD⟩h');
    expect(visible('x\u{e0041}y\ud800z')).toBe('x⟨U+E0041⟩y⟨U+D800⟩z');
  });
  it('leaves ordinary text, accents and emoji alone', () => {
    expect(visible('Zürich — naïve 😀 漢字')).toBe('Zürich — naïve 😀 漢字');
  });
});

describe('noMentions(): no Webex mention token survives', () => {
  it.each(['<@all>', '<@personEmail:a@b.example|A>', '<@personId:Y2lz|X>', '<@groupMention:all>', '< @all>', '&lt;@all&gt;', '&#60;@all>', '&#x3c;@all>'])('%s', (token) => {
    expect(noMentions(token)).not.toMatch(/(<|&lt;|&#0*60;|&#x0*3c;)\s*@/i);
  });
  it('keeps e-mail addresses as they are', () => {
    expect(noMentions('mail jdoe@corp.example')).toBe('mail jdoe@corp.example');
  });
});

describe('defang(): URLs are text', () => {
  it('defangs schemes and host dots, whatever the case', () => {
    expect(defang('https://evil.example/login?x=1')).toBe('hxxps://evil[.]example/login?x=1');
    expect(defang('HTTP://EVIL.example/a.b')).toBe('hxxp://EVIL[.]example/a.b');
    expect(defang('ftp://f.example/x')).toBe('fxp://f[.]example/x');
    expect(defang('javascript://x.y')).toBe('javascript[:]//x[.]y');
    expect(defang('see www.evil.example')).toBe('see www[.]evil.example');
  });
  it('defangs a URL whose scheme the host part of a fake one before it took (found by the hostile-reply property)', () => {
    expect(defang('A:\\\\[escaped](https://evil.example/esc)')).toBe('A[:]\\\\[escaped](hxxps://evil[.]example/esc)');
    const chained = defang('a://x(https://y.example(ftp://z.example(http://w.example');
    expect(chained).not.toMatch(/\b(https?|ftp):/);
    expect(defang(chained)).toBe(chained);
  });
});

describe('md() and code(): every outside value, in messages and cards', () => {
  it('escapes link, emphasis and tag syntax, and a leading list or quote marker', () => {
    expect(md('[Reset](https://evil.example)')).toBe('\\[Reset\\](hxxps://evil\\[.\\]example)');
    expect(md('- item')).toBe('\\- item');
    expect(md('1. item')).toBe('1\\. item');
    expect(md('> quote # x')).toBe('\\> quote \\# x');
    expect(md('amp_computer_guid _x_')).toBe('amp_computer_guid \\_x\\_');
  });
  it('code() spans are inert too: mentions inside code spans were honoured by Webex', () => {
    expect(code('<@all>')).toBe('`<＠all>`');
    expect(code('a\rb')).toBe('`a b`');
  });
  it('markup`` escapes the values and keeps the bot’s own markdown', () => {
    expect(markup`**${'*x*'}**`.markdown).toBe('**\\*x\\***');
  });
  it('sentence() keeps the bot’s code hints and escapes brackets', () => {
    expect(sentence('No open incident for [x](https://e.example): try `incidents`')).toBe('No open incident for \\[x\\](hxxps://e\\[.\\]example): try `incidents`');
  });
  it('inert() is idempotent enough: a second pass changes nothing', () => {
    const once = inert('<@all> https://a.example \u200b\r');
    expect(inert(once)).toBe(once);
  });
});
