import type { FileHandle } from 'node:fs/promises';

/** Writes the whole buffer at the handle's position: a write may take fewer bytes than it was given. */
export async function writeFully(fh: FileHandle, buffer: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < buffer.length) {
    const { bytesWritten } = await fh.write(buffer, offset, buffer.length - offset);
    offset += bytesWritten;
  }
}
