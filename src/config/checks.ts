import cronParser from 'cron-parser';
import { ConfigError } from '../core/errors.js';
import { parseLadder } from '../domain/correlation/ladder.js';
import { parseSeverityRule } from '../domain/correlation/severity.js';
import { envSchema } from './schema.js';

/**
 * Settings whose meaning the zod schema cannot see on its own (a cron expression, a time
 * zone, the ladder's grammar). Checked in loadConfig with the others, so one start-up lists
 * every problem and exits 78 (issue 17 item 10); each problem names its variable.
 * Takes the raw values: they are checked even when other variables are wrong.
 */
export function semanticProblems(raw: Record<string, string>): string[] {
  const problems: string[] = [];
  const value = <K extends 'HUNT_CRON' | 'HUNT_TIMEZONE' | 'CORRELATION_LADDER' | 'XDR_INCIDENT_SEVERITY'>(key: K): string | undefined => {
    const parsed = envSchema.shape[key].safeParse(raw[key]);
    return parsed.success ? parsed.data : undefined;
  };
  const tz = value('HUNT_TIMEZONE');
  let tzOk = false;
  if (tz !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
      tzOk = true;
    } catch {
      problems.push(`HUNT_TIMEZONE "${tz}" is not a known time zone (use an IANA name such as America/New_York)`);
    }
  }
  const cron = value('HUNT_CRON');
  if (cron !== undefined) {
    try {
      cronParser.parseExpression(cron, tzOk ? { tz } : {});
    } catch (err) {
      problems.push(`HUNT_CRON "${cron}" is not a valid cron schedule (${(err as Error).message}); e.g. "0 18 * * 5" is Fridays at 18:00`);
    }
  }
  const ladder = value('CORRELATION_LADDER');
  if (ladder !== undefined) {
    try {
      parseLadder(ladder, { webhookUrl: raw.CORRELATION_WEBHOOK_URL });
    } catch (err) {
      if (err instanceof ConfigError) problems.push(...err.problems);
      else throw err;
    }
  }
  const severity = value('XDR_INCIDENT_SEVERITY');
  if (severity !== undefined) {
    try {
      parseSeverityRule(severity);
    } catch (err) {
      if (err instanceof ConfigError) problems.push(...err.problems);
      else throw err;
    }
  }
  return problems;
}
