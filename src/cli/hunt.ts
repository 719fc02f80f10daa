import { TalosFetcher } from '../clients/talos/fetcher.js';
import { TalosUriLoader } from '../services/talos-uri-loader.js';
import { XdrHttpClient } from '../clients/xdr/client.js';
import type { XdrPort } from '../domain/ports/xdr.js';
import type { Config } from '../config/load.js';
import { systemClock } from '../core/clock.js';
import { SightlineError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { runHunt } from '../domain/hunt/run-hunt.js';
import { parseRoundup } from '../domain/talos/parse.js';
import { fridayOfWeek } from '../domain/talos/week.js';
import type { Roundup } from '../domain/types.js';
import type { Channel, Notification, Notifier, ThreatOutcome } from '../notify/notification.js';
import { casebookUrl, incidentUrl } from '../clients/xdr/client.js';
import { MemoryHuntProgress } from '../services/hunt-progress.js';
import { formatHuntReport } from './report.js';

export interface HuntCliOptions {
  date?: string;
  uri?: string;
  dryRun: boolean;
  json: boolean;
}

/**
 * `sightline hunt`: one hunt, now, in the foreground, printing its report.
 * It never touches the bot's state file (no cursor, no "week hunted" mark) and
 * does not wait for an unpublished roundup: it says so and exits 3.
 * Dry run: verdicts and sightings are looked up, but no casebook and no e-mail.
 */
export async function runHuntCommand(
  opts: HuntCliOptions,
  deps: { config: Config; logger: Logger; out: (s: string) => void; xdr?: XdrPort; emailChannel?: Channel },
): Promise<number> {
  const { config, logger, out } = deps;
  const fetcher = new TalosFetcher({ talos: config.talos, logger });
  let roundup: Roundup;
  if (opts.uri) {
    // Roundups, IOC files, GitHub month folders and blog post addresses, as `hunt blog` takes them.
    roundup = await new TalosUriLoader({ fetcher, config, clock: systemClock, logger }).load(opts.uri);
  } else {
    const friday = fridayOfWeek(opts.date ? new Date(`${opts.date}T12:00:00Z`) : systemClock.now(), config.schedule.timezone);
    const found = await fetcher.findWeek(friday);
    if (found.status === 'not_published') {
      out(`The Talos roundup for the week of ${friday} is not published (tried ${found.tried.length} address(es), last ${found.tried.at(-1)}).`);
      return 3;
    }
    roundup = parseRoundup(found.text, found.uri, { includeSampleHashes: config.talos.includeSampleHashes, cidrExpandMax: config.talos.cidrExpandMax });
  }
  const xdr = deps.xdr ?? new XdrHttpClient({ xdr: config.xdr, logger });
  const notifier = new DirectNotifier(opts.dryRun ? [] : deps.emailChannel ? [deps.emailChannel] : [], logger);
  const label = opts.date ?? roundup.publicationDate?.slice(0, 10) ?? roundup.source;
  const outcomes: ThreatOutcome[] = await runHunt(
    roundup,
    { id: `cli-${Date.now()}`, label, uri: roundup.source, dryRun: opts.dryRun },
    {
      xdr,
      notifier,
      progress: new MemoryHuntProgress(),
      clock: systemClock,
      logger,
      excludedModules: config.xdr.excludedModules,
      cleanRule: config.xdr.cleanRule,
      casebookUrl: (id) => casebookUrl(config.xdr.casebookUrlTemplate, id),
      xdrOutput: config.huntXdrOutput,
      incidentUrl: (id) => incidentUrl(config.xdr.incidentUrlTemplate, id),
    },
  );
  out(opts.json ? JSON.stringify({ roundup: roundup.source, dryRun: opts.dryRun, xdrCalls: xdr.callCount, threats: outcomes }, null, 2) : formatHuntReport(roundup.source, outcomes, xdr.callCount, opts.dryRun));
  if (notifier.failures.length > 0) {
    out(`Warning: ${notifier.failures.length} e-mail(s) could not be sent: ${notifier.failures[0]}`);
  }
  return 0;
}

/** Sends straight to channels (no outbox: a CLI run has no state file); failures are reported, not fatal. */
class DirectNotifier implements Notifier {
  readonly failures: string[] = [];
  constructor(private readonly channels: Channel[], private readonly logger: Logger) {}
  async notify(n: Notification): Promise<void> {
    for (const c of this.channels.filter((ch) => ch.accepts(n))) {
      try {
        await c.deliver(n);
      } catch (err) {
        const msg = err instanceof SightlineError ? err.userMessage : (err as Error).message;
        this.failures.push(msg);
        this.logger.warn({ err, channel: c.name }, 'notification failed');
      }
    }
  }
}
