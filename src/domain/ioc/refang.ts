/**
 * Undoes the usual ways threat reports "defang" indicators so they cannot be
 * clicked. Talos roundups only ever use `[.]` (seeds.md §3.3), but analysts paste
 * values from blogs and tickets into the `iocs` command, so the common variants
 * are handled too. Plain string replacement keeps it linear on 3.5 MB files.
 */
const BRACKETED: ReadonlyArray<readonly [string, string]> = [
  ['[.]', '.'],
  ['(.)', '.'],
  ['{.}', '.'],
  ['[dot]', '.'],
  ['(dot)', '.'],
  ['[:]', ':'],
  ['[://]', '://'],
  ['[@]', '@'],
  ['[at]', '@'],
  ['(at)', '@'],
];

export function refang(value: string): string {
  let out = value.trim();
  // Fast path: the common clean or `[.]`-only value avoids the rest of the work.
  if (out.includes('[.]')) out = out.split('[.]').join('.');
  if (out.includes('[') || out.includes('(') || out.includes('{')) {
    for (const [from, to] of BRACKETED) {
      if (out.toLowerCase().includes(from)) out = replaceAllCaseless(out, from, to);
    }
  }
  const lower = out.slice(0, 6).toLowerCase();
  if (lower.startsWith('hxxps')) out = `https${out.slice(5)}`;
  else if (lower.startsWith('hxxp')) out = `http${out.slice(4)}`;
  return out;
}

function replaceAllCaseless(text: string, from: string, to: string): string {
  // `[DOT]` and `[At]` turn up in hand-written reports; compare case-insensitively.
  const haystack = text.toLowerCase();
  let out = '';
  let at = 0;
  for (let hit = haystack.indexOf(from, at); hit !== -1; hit = haystack.indexOf(from, at)) {
    out += text.slice(at, hit) + to;
    at = hit + from.length;
  }
  return out + text.slice(at);
}
