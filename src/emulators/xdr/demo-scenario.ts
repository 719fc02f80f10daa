import type { Observable } from '../../domain/types.js';
import { endpointTarget, parseScenario, type XdrScenario, type XdrScenarioInput } from './scenario.js';

/**
 * A small, deterministic demo world for the sandbox: for every other threat one
 * IOC is Clean, one was seen on an endpoint by Secure Endpoint (hashes) or
 * Umbrella (network IOCs), and Talos mentions it without targets. The threats in
 * between have nothing in the environment, so "no targets" paths show too.
 */
export const DEMO_HOSTS = [
  { hostname: 'DESKTOP-AU3IP5K', ip: '10.1.2.3', mac: '85:28:cb:6a:21:41', guid: '68e94bf7-e239-4821-90d6-b7eaa0233443', os: 'Windows 10' },
  { hostname: 'LAPTOP-FIN-042', ip: '10.1.7.42', mac: '3c:22:fb:10:9a:01', guid: '0b6a8d1e-5c7e-4a0e-9b55-1f2d3c4b5a69', os: 'Windows 11' },
  { hostname: 'srv-web-01', ip: '10.2.0.11', mac: '00:50:56:aa:bb:cc', guid: 'c1f0e2d3-4b5a-4c6d-8e7f-9a0b1c2d3e4f', os: 'Ubuntu 22.04' },
];

const HASH_TYPES = new Set(['sha256', 'sha1', 'md5']);
const NETWORK_TYPES = new Set(['domain', 'ip', 'url', 'ipv6']);

export function buildDemoScenario(threats: { name: string; observables: Observable[] }[], seenAt = '2021-07-20T08:12:03.000Z'): XdrScenario {
  const s: Required<Pick<XdrScenarioInput, 'verdicts' | 'sightings'>> & XdrScenarioInput = {
    verdicts: [],
    sightings: [],
    errors: [{ module: 'Umbrella', code: 'too-many-requests', message: 'Rate limited', type: 'error', endpoints: ['observe'] }],
    responseActions: [
      { id: 'amp-add-sha256-scd', title: 'Add SHA256 to Custom Detections', module: 'Secure Endpoint', observableTypes: ['sha256'] },
      { id: 'amp-start-isolation-amp-computer-guid', title: 'Isolate host', module: 'Secure Endpoint', observableTypes: ['amp_computer_guid'] },
      { id: 'block', title: 'Block this domain', module: 'Umbrella', observableTypes: ['domain'] },
    ],
  };
  const cleanKeys = new Set(threats.map((t) => t.observables[0]).filter((o) => o !== undefined).map((o) => `${o.type}|${o.value}`));
  threats.forEach((threat, i) => {
    const [clean, ...rest] = threat.observables;
    if (clean) s.verdicts.push({ observable: clean, module: 'Talos Intelligence', disposition: 1 });
    if (i % 2 === 1) {
      // Something for `investigate` to call Suspicious: the threats without sightings get one doubtful IOC.
      const doubtful = rest.find((o) => NETWORK_TYPES.has(o.type) && !cleanKeys.has(`${o.type}|${o.value}`));
      if (doubtful) s.verdicts.push({ observable: doubtful, module: 'Umbrella', disposition: 3 });
      return;
    }
    const sighted = rest.find((o) => HASH_TYPES.has(o.type)) ?? rest.find((o) => NETWORK_TYPES.has(o.type));
    if (!sighted) return;
    const module = HASH_TYPES.has(sighted.type) ? 'Secure Endpoint' : 'Umbrella';
    const host = DEMO_HOSTS[(i / 2) % DEMO_HOSTS.length]!;
    s.verdicts.push({ observable: sighted, module, disposition: 2 });
    s.sightings.push({ observable: sighted, module, targets: [endpointTarget(host, seenAt)], internal: true, title: 'Threat Detected' });
    s.sightings.push({ observable: sighted, module: 'Talos Intelligence', source: 'Talos Threat Advisory Blog', internal: false });
  });
  return parseScenario(s);
}
