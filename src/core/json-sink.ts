/**
 * Where JSON is written piece by piece (the state snapshot, issue 14): `text` for text made now,
 * `kept` for text or UTF-8 bytes the caller holds anyway and never changes. A writer may hold a
 * kept piece by reference until it is written instead of copying it, and need not count it as
 * memory the write added.
 */
export interface JsonSink {
  text(s: string): void;
  kept(piece: string | Uint8Array): void;
}

/** What `write` writes, as one string. */
export function jsonText(write: (sink: JsonSink) => void): string {
  let out = '';
  write({
    text: (s) => (out += s),
    kept: (piece) => (out += typeof piece === 'string' ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength).toString('utf8')),
  });
  return out;
}
