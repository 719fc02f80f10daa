import { readFileSync } from 'node:fs';
import { parse } from 'dotenv';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { envSchema } from '../../src/config/schema.js';

const text = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');

describe('.env.example', () => {
  it('documents every setting the schema reads', () => {
    const missing = Object.keys(envSchema.shape).filter((k) => !new RegExp(`^#?\\s*${k}=`, 'm').test(text));
    expect(missing).toEqual([]);
  });

  it('is itself a valid configuration', () => {
    const c = loadConfig(parse(text));
    expect(c.modules.x.query).toBe('#opendir');
    expect(c.schedule.cron).toBe('0 18 * * 5');
    expect(c.correlation.ladder).toBe('eq 2 -> notify; gte 3 -> mention; gte 5 -> respond');
  });
});
