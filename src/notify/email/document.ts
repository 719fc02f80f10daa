/**
 * A tiny document model so every e-mail has a plain-text and an HTML body
 * that say the same thing. All text is escaped when the HTML is written:
 * threat descriptions arrive from outside and contain quotes (and could contain markup).
 * Every text (not the URLs of the bot's own links) also goes through inert(): no
 * control or invisible character, mention token or clickable URL from outside
 * reaches the mail, in the plain-text body either (mail clients link bare URLs).
 */
import { inert, noMentions } from '../inert.js';

export type Inline = string | { b: string } | { i: string } | { code: string } | { link: string; url: string | undefined };

export type Block =
  | { p: Inline[] }
  | { h: string }
  | { ul: Inline[][] }
  | { facts: [string, Inline[] | undefined][] }
  | { table: { head: string[]; rows: Inline[][][] } };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Only http(s) links are written as links; anything else is shown as text. */
function httpUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.toString() : undefined;
  } catch {
    return undefined;
  }
}

/** Every text of a document, made inert once before either body is written. */
function inertInline(p: Inline): Inline {
  if (typeof p === 'string') return inert(p);
  if ('b' in p) return { b: inert(p.b) };
  if ('i' in p) return { i: inert(p.i) };
  if ('code' in p) return { code: inert(p.code) };
  return { link: inert(p.link), url: p.url };
}

function inertBlock(b: Block): Block {
  const line = (parts: Inline[]) => parts.map(inertInline);
  if ('p' in b) return { p: line(b.p) };
  if ('h' in b) return { h: inert(b.h) };
  if ('ul' in b) return { ul: b.ul.map(line) };
  if ('facts' in b) return { facts: b.facts.map(([k, v]) => [inert(k), v && line(v)]) };
  return { table: { head: b.table.head.map(inert), rows: b.table.rows.map((row) => row.map(line)) } };
}

function inlineText(parts: Inline[]): string {
  return parts
    .map((p) => {
      if (typeof p === 'string') return p;
      if ('b' in p) return p.b;
      if ('i' in p) return p.i;
      if ('code' in p) return p.code;
      const url = httpUrl(p.url);
      return url && url !== p.link ? `${p.link} <${url}>` : p.link;
    })
    .join('');
}

function inlineHtml(parts: Inline[]): string {
  return parts
    .map((p) => {
      if (typeof p === 'string') return escapeHtml(p);
      if ('b' in p) return `<b>${escapeHtml(p.b)}</b>`;
      if ('i' in p) return `<i>${escapeHtml(p.i)}</i>`;
      if ('code' in p) return `<code>${escapeHtml(p.code)}</code>`;
      const url = httpUrl(p.url);
      return url ? `<a href="${escapeHtml(url)}">${escapeHtml(p.link)}</a>` : escapeHtml(p.url ? `${p.link} (${inert(p.url)})` : p.link);
    })
    .join('');
}

export function toText(blocks: Block[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    if ('p' in b) out.push(inlineText(b.p));
    else if ('h' in b) out.push(`${b.h}\n${'-'.repeat(Math.min(b.h.length, 72))}`);
    else if ('ul' in b) out.push(b.ul.map((item) => `  - ${inlineText(item)}`).join('\n'));
    else if ('facts' in b) out.push(presentFacts(b.facts).map(([k, v]) => `  ${k}: ${inlineText(v)}`).join('\n'));
    else
      out.push(
        b.table.rows.map((row) => row.map((cell, i) => `${b.table.head[i] ?? ''}: ${inlineText(cell)}`).join(' | ')).join('\n'),
      );
  }
  // Each value is inert, but two of them side by side can still read as a mention token: a target type
  // `<` and its value `@` make `< @` (found by test/notify/hostile-render.test.ts). Text has no markup to
  // keep the values apart, so the whole body is checked once more.
  return noMentions(`${out.join('\n\n')}\n\n-- \nSent by Sightline\n`);
}

const CELL = 'style="border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top"';

export function toHtml(title: string, blocks: Block[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    if ('p' in b) out.push(`<p>${inlineHtml(b.p)}</p>`);
    else if ('h' in b) out.push(`<h3>${escapeHtml(b.h)}</h3>`);
    else if ('ul' in b) out.push(`<ul>${b.ul.map((item) => `<li>${inlineHtml(item)}</li>`).join('')}</ul>`);
    else if ('facts' in b)
      out.push(
        `<table>${presentFacts(b.facts)
          .map(([k, v]) => `<tr><th ${CELL}>${escapeHtml(k)}</th><td ${CELL}>${inlineHtml(v)}</td></tr>`)
          .join('')}</table>`,
      );
    else
      out.push(
        `<table style="border-collapse:collapse"><thead><tr>${b.table.head.map((h) => `<th ${CELL}>${escapeHtml(h)}</th>`).join('')}</tr></thead>` +
          `<tbody>${b.table.rows.map((row) => `<tr>${row.map((c) => `<td ${CELL}>${inlineHtml(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`,
      );
  }
  return (
    `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
    `<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px">${out.join('\n')}` +
    `<p style="color:#888;font-size:12px">Sent by Sightline</p></body></html>`
  );
}

function presentFacts(facts: [string, Inline[] | undefined][]): [string, Inline[]][] {
  return facts.filter((f): f is [string, Inline[]] => f[1] !== undefined && f[1].length > 0);
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

export function mail(subject: string, blocks: Block[]): RenderedEmail {
  // Subjects come partly from the roundup file: no line breaks (header injection), and a sane length.
  const clean = inert(subject).replace(/ {2,}/g, ' ').trim();
  const chars = Array.from(clean);
  const safeSubject = chars.length > 200 ? `${chars.slice(0, 199).join('')}…` : clean;
  const safe = blocks.map(inertBlock);
  return { subject: safeSubject, text: toText(safe), html: toHtml(safeSubject, safe) };
}

