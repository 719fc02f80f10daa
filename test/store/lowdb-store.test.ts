import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../src/core/errors.js';
import { LowdbStore } from '../../src/store/lowdb-store.js';

async function tempFile(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'sightline-store-')), 'nested', 'state.json');
}

describe('LowdbStore', () => {
  it('creates the file (and its folder) on first open and persists updates', async () => {
    const path = await tempFile();
    const store = await LowdbStore.open(path);
    await store.update((s) => {
      s.talos.cursorUrlId = 597;
    });
    const onDisk = JSON.parse(await readFile(path, 'utf8'));
    expect(onDisk.talos.cursorUrlId).toBe(597);
    const reopened = await LowdbStore.open(path);
    expect(reopened.get().talos.cursorUrlId).toBe(597);
  });

  it('refuses a corrupt file and leaves it untouched', async () => {
    const path = await tempFile();
    await LowdbStore.open(path);
    await writeFile(path, '{"version":1, "talos": {');
    await expect(LowdbStore.open(path)).rejects.toSatisfy((e: unknown) => e instanceof StoreError && e.code === 'store_corrupt');
    expect(await readFile(path, 'utf8')).toBe('{"version":1, "talos": {');
  });

  it('refuses a JSON file that is not a Sightline state file', async () => {
    const path = await tempFile();
    await LowdbStore.open(path);
    await writeFile(path, '[1,2,3]');
    await expect(LowdbStore.open(path)).rejects.toThrow(/not a Sightline state file/);
  });

  it('groups concurrent updates and every caller sees its change durable', async () => {
    const path = await tempFile();
    const store = await LowdbStore.open(path);
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        store.update((s) => {
          s.rooms[`room-${i}`] = `id-${i}`;
        }),
      ),
    );
    const onDisk = JSON.parse(await readFile(path, 'utf8'));
    expect(Object.keys(onDisk.rooms)).toHaveLength(200);
  });
});
