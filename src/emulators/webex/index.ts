export { WebexEmulator, DEFAULT_ANALYSTS, type WebexEmulatorOptions } from './emulator.js';
export type { FaultSpec, RateLimitOptions } from './faults.js';
export type { EmuAction, EmuMessage, EmuPerson, EmuRoom, EmuWebhook } from './model.js';
export { hydraId, hydraKind } from './ids.js';
export { MAX_CARD_BYTES, MAX_MESSAGE_BYTES } from './message-rules.js';
