import { parseArgs } from 'node:util';
import { loadConfig, readProcessEnv } from '../config/load.js';
import { ConfigError, SightlineError } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import { runHuntCommand } from './hunt.js';
import { runIocsCommand } from './iocs.js';
import { MIGRATE_STATE_HELP, runMigrateStateCommand } from './migrate-state.js';

const USAGE = `Usage:
  sightline iocs <file-or-url>                          print the normalised IOCs of a roundup or IOC file as JSON
  sightline hunt [--date YYYY-MM-DD | --uri URL] [--dry-run] [--json]
                                                        run one hunt now and print its report
  sightline start                                       run the bot (same as npm start)
  sightline migrate-state <lowdb-file> [--database-url URL]
                                                        import a lowdb state into PostgreSQL (see below)

${MIGRATE_STATE_HELP}`;

/** Entry of the `sightline` command. Returns the process exit code. */
export async function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): Promise<number> {
  const [command, ...rest] = argv;
  const env = readProcessEnv();
  // CLI output is the report; logs go to stderr and stay quiet unless asked.
  const logger = createLogger({ level: env.LOG_LEVEL ?? 'warn', destination: process.stderr });
  try {
    switch (command) {
      case 'iocs': {
        const target = rest[0];
        if (!target) return usage(out, 'sightline iocs needs a file path or a URL.');
        // Reading a roundup needs no XDR credentials.
        const config = loadConfig({ XDR_CLIENT_ID: 'unused', XDR_CLIENT_PASSWORD: 'unused', ...env });
        await runIocsCommand(target, { talos: config.talos, config, logger }, out);
        return 0;
      }
      case 'hunt': {
        const { values } = parseArgs({
          args: rest,
          options: { date: { type: 'string' }, uri: { type: 'string' }, 'dry-run': { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
        });
        if (values.date && values.uri) return usage(out, 'Give either --date or --uri, not both.');
        if (values.date && !/^\d{4}-\d{2}-\d{2}$/.test(values.date)) return usage(out, `--date must look like 2021-07-23, not "${values.date}".`);
        const config = loadConfig(env);
        const { EmailChannel } = await import('../notify/email/channel.js');
        const email = config.email.enabled ? new EmailChannel({ config: config.email, logger }) : undefined;
        return await runHuntCommand({ date: values.date, uri: values.uri, dryRun: values['dry-run'] ?? false, json: values.json ?? false }, { config, logger, out, emailChannel: email });
      }
      case 'migrate-state': {
        let parsed;
        try {
          parsed = parseArgs({ args: rest, allowPositionals: true, options: { 'database-url': { type: 'string' } } });
        } catch (err) {
          return usage(out, (err as Error).message);
        }
        const { values, positionals } = parsed;
        if (positionals.length !== 1) return usage(out, 'sightline migrate-state needs the path of one lowdb state file.');
        return await runMigrateStateCommand({ file: positionals[0]!, databaseUrl: values['database-url'] ?? process.env.DATABASE_URL }, { logger, out });
      }
      case 'start': {
        const { runMain } = await import('../main.js');
        await runMain();
        return 0;
      }
      default:
        return usage(out, command ? `Unknown command "${command}".` : undefined);
    }
  } catch (err) {
    if (err instanceof ConfigError) out(err.message);
    else if (err instanceof SightlineError) out(`Error: ${err.userMessage}`);
    else out(`Error: ${(err as Error).message}`);
    return err instanceof ConfigError ? 78 : 1;
  }
}

function usage(out: (s: string) => void, problem?: string): number {
  if (problem) out(problem);
  out(USAGE);
  return 64;
}
