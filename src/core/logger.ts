import { pino, type Logger } from 'pino';
import { redactDeep, redactText } from './redact.js';

export type { Logger };

/**
 * Paths pino blanks out wherever they appear in a logged object. Secrets never
 * reach a log line: tokens, passwords and auth headers are censored by name.
 */
export const REDACT_PATHS = [
  '*.token',
  '*.accessToken',
  '*.access_token',
  '*.password',
  '*.clientPassword',
  '*.secret',
  '*.authorization',
  '*.Authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers["x-spark-signature"]',
  'req.headers["x-sightline-signature"]',
  'config.webex.token',
  'config.xdr.clientPassword',
  'config.email.password',
  'config.sightings.secret',
  'config.sightings.bearerToken',
  'config.webex.webhookSecret',
  'config.x.bearerToken',
];

export interface LoggerOptions {
  level?: string;
  /** Where lines go; tests pass a stream to capture them. */
  destination?: pino.DestinationStream;
  /** Secret values blanked wherever they appear (secretsOf(config)). */
  secrets?: readonly string[];
}

/**
 * Besides the paths above, every string the logger writes (fields, the message, errors)
 * goes through redact.ts: URLs lose their userinfo and query, known secrets are blanked.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const secrets = opts.secrets ?? [];
  return pino(
    {
      name: 'sightline',
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: (err: Error) => redactDeep(pino.stdSerializers.err(err), secrets) },
      formatters: { log: (obj) => redactDeep(obj, secrets) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          const clean: unknown[] = args.map((a: unknown) => (typeof a === 'string' ? redactText(a, secrets) : a));
          // `log.error(err)` takes its message from the error: give pino the redacted one instead.
          if (clean[0] instanceof Error && typeof clean[1] !== 'string') clean.splice(1, 0, redactText(clean[0].message, secrets));
          return method.apply(this, clean as Parameters<typeof method>);
        },
      },
    },
    opts.destination,
  );
}

/** Removes known secret values and URL credentials/queries from free text (error messages shown to people). */
export function scrubSecrets(text: string, secrets: Iterable<string | undefined>): string {
  return redactText(text, [...secrets].filter((s): s is string => typeof s === 'string'));
}

export const silentLogger: Logger = pino({ level: 'silent' });
