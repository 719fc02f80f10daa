import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseRoundup } from '../src/domain/talos/parse.js';
import type { Roundup } from '../src/domain/types.js';
import { fileURLToPath } from 'node:url';

/** The six real roundups in test/fixtures/talos, parsed with the bot's default settings. */
export const ROUNDUP_FILES = ['2020/1113.json', '2021/0617.json', '2021/0723.json', '2021/1203.json', '2023/0505.json', '2023/1110.json'];
export const LARGEST = '2020/1113.json';
export const SMALLEST = '2021/1203.json';

/** TALOS_INCLUDE_SAMPLE_HASHES and TALOS_CIDR_EXPAND_MAX defaults. */
export const DEFAULT_PARSE = { includeSampleHashes: false, cidrExpandMax: 4 };

export function fixturesDir(): string {
  return fileURLToPath(new URL('../test/fixtures/talos', import.meta.url));
}

export interface LoadedRoundup {
  file: string;
  raw: string;
  bytes: number;
  roundup: Roundup;
}

export async function loadRoundup(file: string): Promise<LoadedRoundup> {
  const raw = await readFile(path.join(fixturesDir(), file), 'utf8');
  return { file, raw, bytes: Buffer.byteLength(raw), roundup: parseRoundup(raw, file, DEFAULT_PARSE) };
}
