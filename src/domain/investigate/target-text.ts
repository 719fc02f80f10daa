import { CTIM_TITLE_MAX } from '../correlation/ctim-rules.js';
import { incidentTitle } from '../correlation/describe.js';

/**
 * What a target value may hold (issue 17 item 7). `desktop\u200b-1` once opened a second
 * incident that looked exactly like `desktop-1`, and a 900 KB target was taken and then
 * refused by XDR. So, at the intake:
 *  - invisible characters are REFUSED, not stripped: C0/C1 controls (NUL, BEL, ESC…),
 *    format characters (zero-width space/joiners, bidi overrides and isolates, soft hyphen,
 *    BOM), line/paragraph separators and every other default-ignorable code point. A
 *    sender that puts them there is broken or hostile; guessing what it meant would hide that.
 *  - the value is compared after Unicode NFKC (target-identity.ts), so compatibility
 *    look-alikes (fullwidth `ｄｅｓｋｔｏｐ`, ligatures) are the same target, as IDNA maps them.
 *  - the length is bounded by XDR's own limit: the incident title embeds the value and
 *    CTIA refuses a title over 1,024 characters.
 */
export const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/u;

/** The longest target value whose incident title XDR still takes. */
export const MAX_TARGET_VALUE_LENGTH = CTIM_TITLE_MAX - incidentTitle('').length;

/** Why a target value cannot be taken, as a reason for the sender; undefined when it can. */
export function targetValueProblem(value: string): string | undefined {
  const bad = INVISIBLE.exec(value);
  if (bad) return `contains an invisible or control character (U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}); send the value without it`;
  if (value.normalize('NFKC').trim().length > MAX_TARGET_VALUE_LENGTH) return `is longer than ${MAX_TARGET_VALUE_LENGTH} characters (XDR's incident title limit)`;
  return undefined;
}
