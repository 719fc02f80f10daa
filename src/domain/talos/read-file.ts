import { ValidationError } from '../../core/errors.js';
import type { Roundup } from '../types.js';
import { parseRoundup } from './parse.js';
import { iocJsonFormat, parsePost } from './post.js';

/**
 * Reads any Talos file Sightline knows: a Threat Roundup (many threats) or one
 * IOC file of a Cisco-Talos/IOCs post (one threat). The content decides, since
 * both kinds end in `.json` and post names are irregular.
 */
export function readTalosFile(text: string, source: string, opts: { includeSampleHashes: boolean; cidrExpandMax: number }): Roundup {
  if (isRoundupText(text, source)) return parseRoundup(text, source, opts);
  if (text.trimStart().startsWith('<')) {
    throw new ValidationError(`${source} looks like an HTML page, not a Talos IOC file; give the raw file address (raw.githubusercontent.com/…).`);
  }
  return { source, threats: [parsePost([{ path: source, text }])] };
}

function isRoundupText(text: string, source: string): boolean {
  // A `.json` that is not JSON is reported by parseRoundup, as before.
  if (!text.trimStart().startsWith('{')) return /\.json$/i.test(source) && !text.trimStart().startsWith('[');
  try {
    return iocJsonFormat(JSON.parse(text)) === 'roundup';
  } catch {
    return true; // parseRoundup explains what is wrong with the JSON
  }
}
