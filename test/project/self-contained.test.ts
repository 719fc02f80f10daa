import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// The reference folder that sits beside the repository on the developers' machines only.
// Spelled in two parts so this file does not mention it itself.
const OUTSIDE_FOLDER = ['..', 'shared'].join('/');

describe('a plain clone is self-contained', () => {
  it('no tracked file reads or mentions the reference folder beside the repository', () => {
    const files = execFileSync('git', ['ls-files', '-z'], { encoding: 'utf8' }).split('\0').filter(Boolean);
    expect(files.length).toBeGreaterThan(100);
    const offenders = files.filter((f) => {
      try {
        return readFileSync(f, 'utf8').includes(OUTSIDE_FOLDER);
      } catch {
        return false; // deleted in the work tree but still tracked
      }
    });
    expect(offenders).toEqual([]);
  });
});
