import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../src/core/errors.js';
import { LowdbStore } from '../../src/store/lowdb-store.js';
import { stateProblems } from '../../src/store/state-schema.js';
import { corruptStates, sampleState } from '../../reliability/hostile/intake.js';

async function stateFile(text: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'sightline-state-')), 'state.json');
  await writeFile(path, text);
  return path;
}

describe('state file validated at start-up (issue 17 item 8)', () => {
  it('opens a sound state file, and one with sections missing (they start empty)', async () => {
    expect(stateProblems(sampleState())).toEqual([]);
    const store = await LowdbStore.open(await stateFile(JSON.stringify({ version: 1 })));
    expect(store.get().hunts).toEqual([]);
  });

  it('keeps a section written by a newer version (loose, not stripped)', () => {
    expect(stateProblems({ ...sampleState(), somethingNew: { a: 1 } })).toEqual([]);
  });

  it.each(corruptStates().map((c) => [c.label, c] as const))('refuses %s, naming the path, and leaves the file untouched', async (_label, c) => {
    const path = await stateFile(c.text);
    const err = await LowdbStore.open(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('store_corrupt');
    expect((err as StoreError).userMessage).toContain(`${c.path}:`);
    expect((err as StoreError).userMessage).toMatch(/left untouched/);
    expect(await readFile(path, 'utf8')).toBe(c.text);
  });
});
