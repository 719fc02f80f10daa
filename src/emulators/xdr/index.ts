export { XdrEmulator, type XdrEmulatorOptions, type CallRecord } from './server.js';
export { buildDemoScenario, DEMO_HOSTS } from './demo-scenario.js';
export { parseScenario, loadScenarioFile, endpointTarget, type XdrScenario, type XdrScenarioInput } from './scenario.js';
export type { FaultRule, RateLimitOptions } from './faults.js';
export type { TriggerRecord } from './iroh.js';
export type { Entity } from './ctia-store.js';
export { extractObservables, refang } from './inspect.js';
