import type { XdrPort } from '../domain/ports/xdr.js';
import type { Config } from '../config/load.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Notifier } from '../notify/notification.js';
import type { Store } from '../store/store.js';

/** What every hunt needs, whatever Talos source it reads: the roundup runner and the IOCs-repo posts hunt. */
export interface HuntDeps {
  store: Store;
  xdr: XdrPort;
  notifier: Notifier;
  clock: Clock;
  logger: Logger;
  config: Config;
  casebookUrl: (longId: string) => string;
}
