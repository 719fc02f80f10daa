/**
 * Redaction of what the bot logs, in one place (issue 17 item 9): a feed URL such as
 * `…/feed?token=…` put its token in a log field and in an error message. Every URL in a
 * logged string keeps its scheme, host and path; its userinfo and query are replaced, so
 * a secret in either never reaches a log line. Known secret values (secretsOf(config)) are
 * blanked wherever they appear. Used by the logger for fields, messages and errors alike.
 */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]{1,15}:\/\/[^\s"'<>\\`]+/gi;
const MAX_DEPTH = 8;

export const REDACTED = '[redacted]';

/** `https://user:pw@host/p?token=x#f` → `https://[redacted]@host/p?[redacted]`. */
export function redactUrl(url: string): string {
  // By hand, not with URL(): the text must stay as written (no added slash, no re-encoding), also when it does not parse.
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/i.exec(url);
  if (!m) return url;
  const [, scheme, authority = '', path = '', query, fragment = ''] = m;
  const at = authority.lastIndexOf('@');
  const host = at >= 0 ? `${REDACTED}@${authority.slice(at + 1)}` : authority;
  return `${scheme}${host}${path}${query ? `?${REDACTED}` : ''}${fragment}`;
}

export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text.includes('://') ? text.replace(URL_IN_TEXT, redactUrl) : text;
  for (const s of secrets) if (s.length >= 4 && out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

/** A redacted copy of a log object (never changes the caller's objects); bounded depth, cycles cut. */
export function redactDeep(value: unknown, secrets: readonly string[] = [], depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactText(value, secrets);
  if (value === null || typeof value !== 'object' || depth >= MAX_DEPTH) return value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, secrets, depth + 1, seen));
  // Errors are left to the logger's err serializer, which redacts what it makes of them.
  if (value instanceof Date || value instanceof Error || Buffer.isBuffer(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v, secrets, depth + 1, seen);
  return out;
}
