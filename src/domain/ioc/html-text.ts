/**
 * Turns an HTML fragment (an RSS item, an article page) into the plain text a
 * reader sees, so IOC extraction never matches markup. Hand-written scanning
 * instead of regular expressions over the whole document: every pass is linear,
 * whatever the input (an unclosed `<script` cannot make it quadratic).
 *
 * Link targets (`href`) are dropped on purpose: blog posts link to vendors,
 * social media and their own pages, while the IOCs they report are written in
 * the text (usually defanged).
 */
const DROPPED_ELEMENTS = ['script', 'style', 'noscript', 'template'];

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  ndash: '-',
  mdash: '-',
  hellip: '...',
  lsquo: "'",
  rsquo: "'",
  ldquo: '"',
  rdquo: '"',
};

export function htmlToText(html: string): string {
  let text = html;
  for (const name of DROPPED_ELEMENTS) text = dropElement(text, name);
  text = dropComments(text);
  // `[^<>]*` stops at the next `<`, so each character is scanned at most twice.
  text = text.replace(/<[^<>]*>/g, ' ');
  text = decodeEntities(text);
  return text.replace(/[ \t\f\v\r\n\u00a0]+/g, ' ').trim();
}

/** Removes `<name …>…</name>`; an unclosed element drops the rest of the text (as a browser would). */
function dropElement(text: string, name: string): string {
  const lower = text.toLowerCase();
  const open = `<${name}`;
  const close = `</${name}`;
  if (!lower.includes(open)) return text;
  let out = '';
  let at = 0;
  for (let start = lower.indexOf(open, at); start !== -1; start = lower.indexOf(open, at)) {
    out += `${text.slice(at, start)} `;
    const end = lower.indexOf(close, start + open.length);
    if (end === -1) return out;
    const gt = lower.indexOf('>', end);
    at = gt === -1 ? text.length : gt + 1;
  }
  return out + text.slice(at);
}

function dropComments(text: string): string {
  if (!text.includes('<!--')) return text;
  let out = '';
  let at = 0;
  for (let start = text.indexOf('<!--', at); start !== -1; start = text.indexOf('<!--', at)) {
    out += `${text.slice(at, start)} `;
    const end = text.indexOf('-->', start + 4);
    if (end === -1) return out;
    at = end + 3;
  }
  return out + text.slice(at);
}

export function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,8});/gi, (whole, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[body.toLowerCase()] ?? whole;
  });
}
