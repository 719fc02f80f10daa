import type { JsonSink } from '../../core/json-sink.js';
import type { XdrOp } from './types.js';

type SightingOp = Extract<XdrOp, { kind: 'sighting' }>;

/** The fields a sighting op has; an op with any other (written by a newer version) is left as it is. */
const KNOWN = new Set(['id', 'kind', 'seq', 'ctim', 'attempts', 'xdrSightingId', 'lastError']);

/**
 * A queued sighting op as the lowdb state holds it in memory: its CTIM body kept as the JSON
 * text it is written as, and built into an object only when the op is sent (issue 14).
 *
 * Why: a full-speed flood into 1,000 targets leaves up to XDR_MIRROR_NEWEST_SIGHTINGS ops per
 * incident waiting (the mirror sends MAX_OPS_PER_PASS per pass), and each body as parsed
 * objects — a dozen small objects, arrays and strings per sighting — was the largest part of
 * the live heap a minute after the flood. As text it costs one flat string, about a third.
 *
 * What an op sends is unchanged: `ctim` is the same body, parsed from the same text (a fresh
 * copy each time, so nothing can change the queued one). The state file is unchanged too:
 * `toJSON` gives the plain op, and incident-json.ts writes the text as it is (`writeJson`), so a file
 * written before or after this change loads into either version.
 */
export class PackedSightingOp implements SightingOp {
  id: number;
  readonly kind = 'sighting' as const;
  seq: number;
  attempts: number;
  declare xdrSightingId?: string;
  declare lastError?: string;
  #ctimText: string;

  constructor(op: SightingOp) {
    this.id = op.id;
    this.seq = op.seq;
    this.attempts = op.attempts;
    this.#ctimText = flat(JSON.stringify(op.ctim));
    if (op.xdrSightingId !== undefined) this.xdrSightingId = op.xdrSightingId;
    if (op.lastError !== undefined) this.lastError = op.lastError;
  }

  /** The CTIM sighting to POST, built from the queued text (a new object on every read). */
  get ctim(): Record<string, unknown> {
    return JSON.parse(this.#ctimText) as Record<string, unknown>;
  }

  set ctim(value: Record<string, unknown>) {
    this.#ctimText = flat(JSON.stringify(value));
  }

  /** Characters of the queued body (for the memory benchmark and tests). */
  get ctimChars(): number {
    return this.#ctimText.length;
  }

  /** The op as the plain object the state file has always held (field order as a plain op's). */
  toJSON(): SightingOp {
    return { id: this.id, kind: 'sighting', seq: this.seq, ctim: this.ctim, attempts: this.attempts, ...this.optional() };
  }

  /**
   * Writes exactly `JSON.stringify(this)`, without parsing the body only to print it again; the body's
   * text goes as kept (it never changes: a new body is a new string), so a snapshot holds it by reference.
   */
  writeJson(sink: JsonSink): void {
    const rest = this.optional();
    sink.text(`{"id":${JSON.stringify(this.id)},"kind":"sighting","seq":${JSON.stringify(this.seq)},"ctim":`);
    sink.kept(this.#ctimText);
    let tail = `,"attempts":${JSON.stringify(this.attempts)}`;
    if (rest.xdrSightingId !== undefined) tail += `,"xdrSightingId":${JSON.stringify(rest.xdrSightingId)}`;
    if (rest.lastError !== undefined) tail += `,"lastError":${JSON.stringify(rest.lastError)}`;
    sink.text(`${tail}}`);
  }

  private optional(): { xdrSightingId?: string; lastError?: string } {
    return {
      ...(this.xdrSightingId !== undefined ? { xdrSightingId: this.xdrSightingId } : {}),
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }
}

/**
 * The same string, stored flat. JSON.stringify returns a string made of the pieces it joined,
 * which V8 keeps as such: ~650 bytes for a 480-character body against ~510 once flat (measured,
 * 20,000 bodies). Converting it to a number makes V8 flatten it in place; the number is unused.
 */
function flat(text: string): string {
  if (Number(text) === 0) return text;
  return text;
}

/** The op packed when it is a plain sighting op with only the fields this version knows; otherwise as it is. */
export function packOp(op: XdrOp): XdrOp {
  if (op.kind !== 'sighting' || op instanceof PackedSightingOp) return op;
  if (typeof op.ctim !== 'object' || op.ctim === null || Array.isArray(op.ctim)) return op;
  for (const key of Object.keys(op)) if (!KNOWN.has(key)) return op;
  return new PackedSightingOp(op);
}

/** Packs every sighting op of a queue in place (state loaded from disk, written by any version). */
export function packQueue(pending: XdrOp[]): void {
  for (let i = 0; i < pending.length; i++) pending[i] = packOp(pending[i]!);
}

/** Writes an incident's `xdrSync` exactly as `JSON.stringify(xdrSync)`, each packed body's text as it is. */
export function writeXdrSyncJson(xdrSync: object, sink: JsonSink): void {
  let first = true;
  for (const [key, value] of Object.entries(xdrSync)) {
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue;
    sink.text(`${first ? '{' : ','}${JSON.stringify(key)}:`);
    first = false;
    if (key === 'pending' && Array.isArray(value)) writePendingJson(value as XdrOp[], sink);
    else sink.text(JSON.stringify(value));
  }
  sink.text(first ? '{}' : '}');
}

function writePendingJson(pending: readonly XdrOp[], sink: JsonSink): void {
  sink.text('[');
  for (let i = 0; i < pending.length; i++) {
    const op = pending[i]!;
    if (i > 0) sink.text(',');
    if (op instanceof PackedSightingOp) op.writeJson(sink);
    else sink.text(JSON.stringify(op));
  }
  sink.text(']');
}
