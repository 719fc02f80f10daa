/**
 * Child process for the rejection-guard test: installs the guard, leaves one promise
 * rejection unhandled (from "the SDK" or from our own code, per argv[2]), and prints
 * "alive" if it is still running afterwards.
 */
import { silentLogger } from '../../../../src/core/logger.js';
import { installSdkRejectionGuard } from '../../../../src/transport/webex/websocket/sdk-rejection-guard.js';

installSdkRejectionGuard(silentLogger);
const err = new Error(process.argv[2] === 'sdk' ? 'INVALID_STATE_ERROR' : 'a bug in Sightline');
if (process.argv[2] === 'sdk') err.stack = `Error: INVALID_STATE_ERROR\n    at send (/app/node_modules/@webex/internal-plugin-mercury/dist/socket/socket-base.js:319:23)`;
void Promise.reject(err);
setTimeout(() => process.stdout.write('alive\n'), 200);
