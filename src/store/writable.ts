import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConfigError, StoreError } from '../core/errors.js';

/**
 * Start-up check that the state folder can be written (issue 17 item 10): the state file,
 * the sightings journal and the delivery receipts all live there, and a read-only folder
 * used to surface as a raw EROFS from whichever wrote first. A folder that can never work
 * (read-only, not ours, a file in the way) is a ConfigError naming STATE_FILE (exit 78);
 * a full disk is a StoreError (it may clear).
 */
export async function assertStateFolderWritable(stateFile: string): Promise<void> {
  const dir = dirname(stateFile);
  const probe = join(dir, `.sightline-write-test-${process.pid}`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(probe, '');
    await rm(probe, { force: true });
  } catch (err) {
    throw stateFolderError(stateFile, err);
  }
}

export function stateFolderError(stateFile: string, err: unknown): Error {
  const dir = dirname(stateFile);
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const fix = 'point STATE_FILE at a folder Sightline can write, or fix the folder';
  switch (code) {
    case 'EROFS':
      return new ConfigError([`STATE_FILE ${stateFile}: the folder ${dir} is on a read-only file system; ${fix}`]);
    case 'EACCES':
    case 'EPERM':
      return new ConfigError([`STATE_FILE ${stateFile}: this user may not write to the folder ${dir}; ${fix}`]);
    case 'ENOTDIR':
    case 'EEXIST':
      return new ConfigError([`STATE_FILE ${stateFile}: part of the folder path ${dir} is a file, not a folder; ${fix}`]);
    case 'ENOSPC':
    case 'EDQUOT':
      return new StoreError('store_unwritable', `The disk holding STATE_FILE ${stateFile} is full: free some space, then start Sightline again.`, { cause: err });
    default:
      return new StoreError('store_unwritable', `The folder of STATE_FILE ${stateFile} cannot be written (${code ?? (err as Error)?.message}); ${fix}.`, { cause: err });
  }
}
