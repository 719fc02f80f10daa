import { ConfigError } from '../../core/errors.js';

/**
 * What a failed `listen()` means for the operator, naming the setting to change
 * (issue 17 item 10): raw ENOTFOUND / EADDRINUSE said nothing about HTTP_HOST or HTTP_PORT.
 * Anything else is passed on unchanged.
 */
export function explainListenError(err: unknown, host: string, port: number): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'EADDRINUSE':
      return new ConfigError([`HTTP_PORT ${port} is already in use on HTTP_HOST ${host}: stop the other process or choose another HTTP_PORT`]);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return new ConfigError([`HTTP_HOST "${host}" does not resolve to an address: use an IP address of this machine (127.0.0.1, 0.0.0.0) or a name that resolves to one`]);
    case 'EADDRNOTAVAIL':
      return new ConfigError([`HTTP_HOST "${host}" is not an address of this machine: use one of its IP addresses, or 0.0.0.0 for all of them`]);
    case 'EACCES':
    case 'EPERM':
      return new ConfigError([`HTTP_PORT ${port} needs privileges this process does not have: use a port above 1023`]);
    default:
      return err;
  }
}
