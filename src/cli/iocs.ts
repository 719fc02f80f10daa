import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { TalosFetcher } from '../clients/talos/fetcher.js';
import type { HttpClient } from '../clients/http.js';
import type { Config } from '../config/load.js';
import { NotFoundError, SightlineError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { readTalosFile } from '../domain/talos/read-file.js';
import { classifyTalosUri } from '../domain/talos/talos-uri.js';
import { TalosUriLoader } from '../services/talos-uri-loader.js';
import { systemClock } from '../core/clock.js';
import type { Roundup } from '../domain/types.js';

/**
 * `sightline iocs <file|url>`: shows what Sightline would investigate from a
 * roundup or a Cisco-Talos/IOCs file (STIX 2, STIX 1, MISP, .txt; one threat
 * per post), and what it refused and why, without touching XDR. URLs go through
 * the same allow-list and size limit as the weekly hunt.
 */
export interface IocsCommandOptions {
  talos: Config['talos'];
  /** The whole config: GitHub blob/tree and Talos blog addresses are read through it (talos-uri-loader.ts). */
  config?: Config;
  logger?: Logger;
  http?: HttpClient;
}

export interface IocsOutput {
  threats: Array<{ name: string; observables: Array<{ type: string; value: string }>; rejected: Array<{ value: string; reason: string }> }>;
}

export async function runIocsCommand(target: string, opts: IocsCommandOptions, out: (s: string) => void): Promise<void> {
  const roundup = /^[a-z][a-z0-9+.-]*:\/\//i.test(target) ? await fromUrl(target, opts) : await fromFile(target, opts.talos);
  out(JSON.stringify(toOutput(roundup)));
}

export function toOutput(roundup: Roundup): IocsOutput {
  return {
    threats: roundup.threats.map((t) => ({
      name: t.name,
      observables: t.observables.map(({ type, value }) => ({ type, value })),
      rejected: t.rejected.map(({ value, reason }) => ({ value, reason })),
    })),
  };
}

async function fromUrl(uri: string, opts: IocsCommandOptions): Promise<Roundup> {
  const fetcher = new TalosFetcher({ talos: opts.talos, logger: opts.logger ?? silentLogger, http: opts.http });
  if (opts.config && classifyTalosUri(uri).kind !== 'file') {
    return new TalosUriLoader({ fetcher, config: { ...opts.config, talos: opts.talos }, clock: systemClock, logger: opts.logger ?? silentLogger }).load(uri);
  }
  const file = await fetcher.fetchText(uri);
  return readTalosFile(file.text, file.uri, opts.talos);
}

async function fromFile(file: string, talos: Config['talos']): Promise<Roundup> {
  const absolute = path.resolve(file);
  let size: number;
  try {
    const info = await stat(absolute);
    if (!info.isFile()) throw new Error('not a regular file');
    size = info.size;
  } catch {
    throw new NotFoundError(`There is no readable file at ${absolute}; give the path of a roundup .json file or its https:// URL.`);
  }
  if (size > talos.maxFileBytes) {
    throw new SightlineError(
      'payload_too_large',
      `${absolute} is ${size} bytes, more than the ${talos.maxFileBytes}-byte limit for a roundup; raise TALOS_MAX_FILE_BYTES if it is genuine.`,
      { httpStatus: 413 },
    );
  }
  const text = await readFile(absolute, 'utf8');
  return readTalosFile(text, absolute, talos);
}
