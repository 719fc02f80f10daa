import { format } from 'node:util';
import type { Logger } from './logger.js';

/**
 * Routes `console.*` through the logger, so every line the process writes to stdout is a
 * pino JSON line. webex-node-bot-framework prints with console.log/console.error (e.g.
 * "Listening for webex teams events...", webhook set-up errors) and the Webex SDK's logger
 * calls console[level] at the moment it prints, so both land here. Returns the undo.
 */
const LEVELS = { log: 'info', info: 'info', warn: 'warn', error: 'error', debug: 'debug', trace: 'trace' } as const;

type ConsoleMethod = keyof typeof LEVELS;

export function routeConsoleToLogger(logger: Logger): () => void {
  const log = logger.child({ component: 'console' });
  const saved = new Map<ConsoleMethod, (...args: unknown[]) => void>();
  for (const [method, level] of Object.entries(LEVELS) as [ConsoleMethod, (typeof LEVELS)[ConsoleMethod]][]) {
    saved.set(method, console[method]);
    // console.trace prints a stack; as a log line the message is enough.
    console[method] = (...args: unknown[]) => log[level](format(...args));
  }
  return () => {
    for (const [method, fn] of saved) console[method] = fn;
  };
}
