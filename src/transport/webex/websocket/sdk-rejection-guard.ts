import type { Logger } from '../../../core/logger.js';

/** Where the SDK's code lives: a rejection whose stack passes through here came from it. */
const SDK_FRAMES = /[\\/]node_modules[\\/](?:@webex[\\/]|webex[\\/]|webex-node-bot-framework[\\/])/;

export function isSdkOrigin(reason: unknown): boolean {
  return reason instanceof Error && typeof reason.stack === 'string' && SDK_FRAMES.test(reason.stack);
}

/**
 * The Webex SDK leaves promise rejections unhandled on some network failures (webex.md
 * §1.3); Node 20 would exit on them. This guard swallows (and logs) only those. Any other
 * unhandled rejection is a bug in Sightline and crashes the process exactly as it would
 * without the guard, in both Webex modes (§5.6).
 * Returns the function that removes it.
 */
export function installSdkRejectionGuard(logger: Logger): () => void {
  const onRejection = (reason: unknown) => {
    if (isSdkOrigin(reason)) {
      logger.warn({ err: reason }, 'the Webex SDK left a promise rejection unhandled; ignored so the bot stays up');
      return;
    }
    // What Node does without a listener: raise it as an uncaught exception (exit code 1).
    process.nextTick(() => {
      throw reason instanceof Error ? reason : new Error(`Unhandled promise rejection: ${String(reason)}`);
    });
  };
  process.on('unhandledRejection', onRejection);
  return () => process.off('unhandledRejection', onRejection);
}
