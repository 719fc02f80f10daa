import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isSdkOrigin } from '../../../../src/transport/webex/websocket/sdk-rejection-guard.js';

/** §5.6: the guard swallows only the SDK's rejections; a bug of ours crashes as it would without it. */
function run(origin: 'sdk' | 'ours') {
  return spawnSync(process.execPath, ['--import', 'tsx', new URL('./guard-child.ts', import.meta.url).pathname, origin], { encoding: 'utf8', timeout: 30_000 });
}

describe('SDK rejection guard', () => {
  it('keeps the process up for a rejection from the SDK', () => {
    const r = run('sdk');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('alive');
  });

  it('crashes with exit code 1 on any other unhandled rejection, naming it', () => {
    const r = run('ours');
    expect(r.status).toBe(1);
    expect(r.stdout).not.toContain('alive');
    expect(r.stderr).toContain('a bug in Sightline');
  });

  it('tells SDK frames from ours', () => {
    const sdk = new Error('x');
    sdk.stack = 'Error: x\n    at y (/srv/node_modules/webex/dist/index.js:1:1)';
    expect(isSdkOrigin(sdk)).toBe(true);
    expect(isSdkOrigin(new Error('ours'))).toBe(false);
    expect(isSdkOrigin('not an error')).toBe(false);
  });
});
