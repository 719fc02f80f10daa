import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { postSightings, moduleSighting } from '../../reliability/support.js';
import { startPostgresSandbox } from '../../src/sandbox/postgres-sandbox.js';

/** `npm run sandbox -- --postgres` end to end: a throwaway cluster, two instances, the shared URL. */
describe('sandbox on PostgreSQL', () => {
  it('runs two instances on one database; exactly one leads; sightings through the shared URL reach both', { timeout: 180_000 }, async () => {
    const sandbox = await startPostgresSandbox();
    try {
      expect(sandbox.instances).toHaveLength(2);
      expect(sandbox.instances.filter((i) => i.leader)).toHaveLength(1);
      const statuses = [];
      for (let n = 0; n < 4; n++) statuses.push((await postSightings(sandbox.proxy.url, JSON.stringify([moduleSighting(`sbx-${n}`, 'host-1.corp.example', 'evil.example')]))).status);
      expect(statuses).toEqual([202, 202, 202, 202]);
      expect([...sandbox.proxy.served.values()].every((n) => n >= 2)).toBe(true);
      const client = new pg.Client({ connectionString: sandbox.cluster.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM sightings WHERE id LIKE 'sbx-%'`);
        expect(Number(rows[0]!.n)).toBe(4);
      } finally {
        await client.end();
      }
    } finally {
      await sandbox.stop();
    }
  });
});
