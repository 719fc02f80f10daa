import type { EmulatedWorld } from '../src/sandbox/world.js';
import { startRunningBot, type RunningBot } from '../src/sandbox/running-bot.js';

/** The whole bot in this process against every emulator (the same wiring the e2e tests use). */
export type BenchBot = RunningBot;
export const startBenchBot = startRunningBot;

/** The roundup's URL on the Talos emulator (GitHub layout), for `hunt blog <url>` / HuntRunner.runUri. */
export function roundupUrl(world: EmulatedWorld, file: string): string {
  return `${world.talos.url}/Cisco-Talos/Threat-Round-Up/master/${file}`;
}
