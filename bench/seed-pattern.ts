import { Agent, request } from 'undici';

/**
 * The original workflow's XDR call pattern (seed B, seeds.md §2.3 step 4 and §2.6
 * "Serial and cost"), with raw undici calls, serially, per threat:
 *   token → inspect(all indicators of the threat as one text)
 *   per observable: token → deliberate([that one observable])
 *   token → observe(the non-Clean list)
 *   when a module reported targets: token → create casebook.
 * Indicators are what the seed's jsonpaths read: domain hosts, IPs, and the sample
 * hashes of file/mutex/registry IOCs, with `"`, `[`, `]` removed.
 */
export interface SeedXdr {
  tokenUrl: string;
  irohBase: string;
  ctiaBase: string;
  clientId: string;
  clientPassword: string;
}

export interface SeedRun {
  calls: number;
  tokenCalls: number;
  apiCalls: number;
  failedCalls: number;
  observables: number;
  wallMs: number;
}

type RawThreat = { description?: string; iocs?: Record<string, Array<Record<string, unknown>>> };

export function seedIndicators(threat: RawThreat): string {
  const iocs = threat.iocs ?? {};
  const domains = (iocs['domain'] ?? []).map((e) => String(e['host']));
  const ips = (iocs['ip'] ?? []).map((e) => String(e['ip']));
  const hashes = ['file', 'mutex', 'registry'].flatMap((k) => (iocs[k] ?? []).flatMap((e) => (Array.isArray(e['hashes']) ? (e['hashes'] as string[]) : [])));
  const unique = [...new Set(hashes)];
  return [domains.join(','), ips.join(','), unique.join(',')]
    .filter(Boolean)
    .join(',')
    .replace(/["[\]]/g, '');
}

export async function runSeedPattern(roundupJson: string, xdr: SeedXdr): Promise<SeedRun> {
  const data = JSON.parse(roundupJson) as Record<string, unknown> & { signatures: string[] };
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: 1 });
  const run: SeedRun = { calls: 0, tokenCalls: 0, apiCalls: 0, failedCalls: 0, observables: 0, wallMs: 0 };
  const started = performance.now();
  const call = async (url: string, body: unknown, token: string): Promise<unknown> => {
    run.calls++;
    run.apiCalls++;
    const res = await request(url, {
      method: 'POST',
      dispatcher: agent,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    });
    const json = await res.body.json().catch(() => undefined);
    if (res.statusCode >= 400) run.failedCalls++;
    return json;
  };
  const token = async (): Promise<string> => {
    run.calls++;
    run.tokenCalls++;
    const basic = Buffer.from(`${xdr.clientId}:${xdr.clientPassword}`).toString('base64');
    const res = await request(xdr.tokenUrl, {
      method: 'POST',
      dispatcher: agent,
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: 'grant_type=client_credentials',
    });
    const json = (await res.body.json()) as { access_token?: string };
    return json.access_token ?? '';
  };
  try {
    for (const name of data.signatures) {
      const threat = data[name] as RawThreat;
      const indicators = seedIndicators(threat);
      const inspected = await call(`${xdr.irohBase}/iroh-inspect/inspect`, { content: indicators }, await token());
      const observables = Array.isArray(inspected) ? (inspected as { type: string; value: string }[]) : [];
      run.observables += observables.length;
      const nonClean: { value: string; type: string }[] = [];
      for (const o of observables) {
        const verdicts = await call(`${xdr.irohBase}/iroh-enrich/deliberate/observables`, [{ type: o.type, value: o.value }], await token());
        if (!isClean(verdicts)) nonClean.push({ value: o.value, type: o.type });
      }
      if (nonClean.length === 0) continue;
      const observed = await call(`${xdr.irohBase}/iroh-enrich/observe/observables`, nonClean, await token());
      if (hasTargets(observed)) {
        await call(
          `${xdr.ctiaBase}/casebook`,
          { type: 'casebook', title: `TALOS Roundup - Threat ${name}`, description: String(threat.description ?? ''), observables, timestamp: new Date().toISOString() },
          await token(),
        );
      }
    }
  } finally {
    run.wallMs = performance.now() - started;
    await agent.close();
  }
  return run;
}

/** The seed's "SxTR Check Deliberate Verdict" answers one disposition name; Clean when a module says Clean (disposition 1). */
function isClean(envelope: unknown): boolean {
  const modules = (envelope as { data?: Array<{ data?: { verdicts?: { docs?: Array<{ disposition?: number }> } } }> } | undefined)?.data ?? [];
  return modules.some((m) => (m.data?.verdicts?.docs ?? []).some((d) => d.disposition === 1));
}

/** Seed B's jsonpath `$..sightings.docs[*].targets[*]` matching anything in any module. */
function hasTargets(envelope: unknown): boolean {
  const modules = (envelope as { data?: Array<{ data?: { sightings?: { docs?: Array<{ targets?: unknown[] }> } } }> } | undefined)?.data ?? [];
  return modules.some((m) => (m.data?.sightings?.docs ?? []).some((d) => (d.targets ?? []).length > 0));
}
