import { pino, type Logger } from 'pino';

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
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      name: 'sightline',
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err },
    },
    opts.destination,
  );
}

/** Removes known secret values from free text (error messages, URLs) before it is shown or logged. */
export function scrubSecrets(text: string, secrets: Iterable<string | undefined>): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join('[redacted]');
  }
  return out;
}

export const silentLogger: Logger = pino({ level: 'silent' });
