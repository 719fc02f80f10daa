import type { Config } from '../../src/config/load.js';
import type { TalosEmulator } from '../../src/emulators/talos/server.js';

/** Talos settings pointing at the emulator (GitHub layout, its host allowed), with overrides. */
export function talosConfigFor(emulator: TalosEmulator, over: Partial<Config['talos']> = {}): Config['talos'] {
  return {
    urlTemplate: emulator.githubTemplate,
    urlIdStart: 597,
    urlIdProbeMax: 50,
    retryIntervalSeconds: 3600,
    maxRetryIterations: 24,
    allowedHosts: [emulator.hostPort],
    includeSampleHashes: false,
    cidrExpandMax: 4,
    maxFileBytes: 20 * 1024 * 1024,
    ...over,
  };
}
