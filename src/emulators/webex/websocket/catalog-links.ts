/**
 * What the u2c catalog must add for the SDK to run in websocket mode (webex-websocket.md §1):
 * `wdm` (device registration), `metrics` (else an unhandled rejection every 500 ms) and
 * `conversation` with a host entry carrying a cluster id (else the SDK cannot build Hydra ids).
 */
export function websocketServiceLinks(origin: string): Record<string, string> {
  return {
    wdm: `${origin}/wdm/api/v1`,
    metrics: `${origin}/metrics/api/v1`,
    conversation: `${origin}/conversation/api/v1`,
  };
}

export function websocketHostCatalog(origin: string): Record<string, unknown[]> {
  const host = new URL(origin).host;
  return { [host]: [{ host, ttl: -1, priority: 5, id: 'urn:TEAM:us-east-2_a:conversation' }] };
}
