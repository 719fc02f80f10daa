import type { FileHandle } from 'node:fs/promises';

/** Writes the whole buffer at the handle's position: a write may take fewer bytes than it was given. */
export async function writeFully(fh: FileHandle, buffer: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < buffer.length) {
    const { bytesWritten } = await fh.write(buffer, offset, buffer.length - offset);
    offset += bytesWritten;
  }
}

/** Writes every buffer, in order, in as few system calls as the kernel allows (writev), going on after a short write. */
export async function writevFully(fh: FileHandle, buffers: readonly Uint8Array[]): Promise<void> {
  let rest = buffers.filter((b) => b.length > 0);
  while (rest.length > 0) {
    let { bytesWritten } = await fh.writev(rest as Uint8Array[]);
    let i = 0;
    while (i < rest.length && bytesWritten >= rest[i]!.length) bytesWritten -= rest[i++]!.length;
    rest = rest.slice(i);
    if (bytesWritten > 0) rest[0] = rest[0]!.subarray(bytesWritten);
  }
}
