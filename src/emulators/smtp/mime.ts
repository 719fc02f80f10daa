/**
 * Just enough MIME for the SMTP emulator to show tests what was sent: headers,
 * RFC 2047 encoded words, multipart bodies, quoted-printable and base64.
 * Not a general parser (mailparser is not installed).
 */
export interface ParsedMail {
  headers: Map<string, string>;
  subject: string;
  from: string;
  to: string[];
  text: string;
  html?: string;
}

interface Part {
  headers: Map<string, string>;
  body: string;
}

function splitPart(raw: string): Part {
  const normalized = raw.replace(/\r\n/g, '\n');
  const sep = normalized.indexOf('\n\n');
  const head = sep === -1 ? normalized : normalized.slice(0, sep);
  const body = sep === -1 ? '' : normalized.slice(sep + 2);
  const headers = new Map<string, string>();
  // Folded header lines start with whitespace and continue the previous header.
  for (const line of head.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { headers, body };
}

function param(header: string | undefined, name: string): string | undefined {
  const m = header?.match(new RegExp(`${name}\\s*=\\s*("([^"]*)"|[^;\\s]+)`, 'i'));
  return m ? (m[2] ?? m[1]) : undefined;
}

function charsetOf(header: string | undefined): BufferEncoding {
  const cs = param(header, 'charset')?.toLowerCase();
  return cs === 'iso-8859-1' || cs === 'latin1' || cs === 'us-ascii' ? 'latin1' : 'utf8';
}

export function decodeQuotedPrintable(text: string, charset: BufferEncoding = 'utf8'): string {
  const unfolded = text.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < unfolded.length; i++) {
    const ch = unfolded[i]!;
    const hex = unfolded.slice(i + 1, i + 3);
    if (ch === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(...Buffer.from(ch, 'utf8'));
  }
  return Buffer.from(bytes).toString(charset);
}

/** "=?UTF-8?Q?Found_targets?=" → "Found targets" (RFC 2047). */
export function decodeEncodedWords(value: string): string {
  return value
    .replace(/(=\?[^?]+\?[BbQq]\?[^?]*\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_m, charset: string, enc: string, data: string) => {
      const cs: BufferEncoding = /utf-?8/i.test(charset) ? 'utf8' : 'latin1';
      if (enc.toUpperCase() === 'B') return Buffer.from(data, 'base64').toString(cs);
      return decodeQuotedPrintable(data.replace(/_/g, ' '), cs);
    });
}

function decodeBody(part: Part): string {
  const encoding = part.headers.get('content-transfer-encoding')?.toLowerCase();
  const charset = charsetOf(part.headers.get('content-type'));
  if (encoding === 'base64') return Buffer.from(part.body.replace(/\s+/g, ''), 'base64').toString(charset);
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(part.body, charset);
  return part.body;
}

/** Leaf parts of a (possibly nested) multipart message, in order. */
function leaves(part: Part): Part[] {
  const type = part.headers.get('content-type') ?? 'text/plain';
  const boundary = /^multipart\//i.test(type) ? param(type, 'boundary') : undefined;
  // The line break before a boundary belongs to the boundary (RFC 2046), and the one before the
  // final "." to the SMTP terminator: either way it is not content.
  if (!boundary) return [{ headers: part.headers, body: part.body.replace(/\n$/, '') }];
  const chunks = part.body.split(`--${boundary}`);
  // chunks[0] is the preamble; the chunk starting with "--" is the epilogue.
  return chunks
    .slice(1)
    .filter((c) => !c.startsWith('--'))
    .flatMap((c) => leaves(splitPart(c.replace(/^\n/, ''))));
}

function addresses(header: string | undefined): string[] {
  if (!header) return [];
  return [...decodeEncodedWords(header).matchAll(/<?([^\s<>,"]+@[^\s<>,"]+)>?/g)].map((m) => m[1]!);
}

export function parseMail(raw: string): ParsedMail {
  const top = splitPart(raw);
  const parts = leaves(top);
  const typeOf = (p: Part) => (p.headers.get('content-type') ?? 'text/plain').toLowerCase();
  const textPart = parts.find((p) => typeOf(p).startsWith('text/plain'));
  const htmlPart = parts.find((p) => typeOf(p).startsWith('text/html'));
  const parsed: ParsedMail = {
    headers: top.headers,
    subject: decodeEncodedWords(top.headers.get('subject') ?? ''),
    from: addresses(top.headers.get('from'))[0] ?? '',
    to: addresses(top.headers.get('to')),
    text: textPart ? decodeBody(textPart) : '',
  };
  if (htmlPart) parsed.html = decodeBody(htmlPart);
  return parsed;
}
