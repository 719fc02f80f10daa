import { CONTEXT_REASONS, IocCollector, type IocFileResult, type ValueKind } from './ioc-collector.js';

/**
 * The `.txt` of a Cisco-Talos/IOCs post: blocks of one (defanged) value a line,
 * usually under a heading underlined with `===`. The heading decides what the
 * block holds, so `setup.exe` under "File names" is context, not a domain.
 * Without a heading (most files), each value says what it is by its shape;
 * a "host" whose last label is a file extension that no registry delegates
 * (`.exe`, `.dll` …) is a file name.
 */
type Block = ValueKind | { reason: string };

const UNDERLINE = /^\s*(?:={3,}|-{3,})\s*$/;
const COLON_HEADING = /^[A-Za-z][A-Za-z0-9 /()&,'-]*:\s*$/;
const FILE_EXTENSIONS = new Set(
  'exe dll bat cmd ps1 psm1 vbs vbe lnk hta txt doc docx docm xls xlsx xlsm ppt pptx pdf js jse rar 7z iso img msi tmp log ini dat bin jar elf scr cpl sys wsf dmg apk'.split(' '),
);

export function parseIocText(text: string): IocFileResult {
  const lines = text.split(/\r?\n/);
  const out = new IocCollector();
  let block: Block = 'any';
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || UNDERLINE.test(line)) continue;
    const next = lines[i + 1];
    if ((next !== undefined && UNDERLINE.test(next)) || COLON_HEADING.test(line)) {
      heading = line.replace(/:\s*$/, '');
      block = blockOf(heading);
      continue;
    }
    const field = heading ? `txt: ${heading}` : 'txt';
    if (typeof block !== 'string') out.context(line, block.reason, field);
    else if (block === 'any' && looksLikeFileName(line)) out.context(line, CONTEXT_REASONS.fileName, field);
    else out.add(line, block, field);
  }
  return { format: 'text', observables: out.observables, rejected: out.rejected, tally: out.tally };
}

/** What a heading says its block holds; an unknown heading leaves each value to speak for itself. */
export function blockOf(heading: string): Block {
  const h = heading.toLowerCase();
  if (/\b(file ?names?|files?|filenames?|paths?)\b/.test(h) && !/hash|sha|md5/.test(h)) return { reason: CONTEXT_REASONS.fileName };
  if (/mutex/.test(h)) return { reason: CONTEXT_REASONS.mutex };
  if (/regist/.test(h)) return { reason: CONTEXT_REASONS.registry };
  if (/\bports?\b/.test(h)) return { reason: CONTEXT_REASONS.port };
  if (/sha-?256/.test(h)) return 'sha256';
  if (/sha-?1\b/.test(h)) return 'sha1';
  if (/md5/.test(h)) return 'md5';
  if (/hash/.test(h)) return 'hash';
  if (/\b(urls?|uris?|links?)\b/.test(h)) return 'url';
  if (/e-?mail|sender/.test(h)) return 'email';
  if (/ipv6/.test(h)) return 'ipv6';
  if (/\bips?\b|ip address|ipv4|\baddress/.test(h)) return 'ip';
  if (/domain|host/.test(h)) return 'domain';
  return 'any';
}

function looksLikeFileName(line: string): boolean {
  const value = line.replace(/\[\.\]/g, '.');
  if (/[:/@\s]/.test(value)) return false;
  const dot = value.lastIndexOf('.');
  return dot > 0 && FILE_EXTENSIONS.has(value.slice(dot + 1).toLowerCase());
}
