import { isIP } from 'node:net';
import { UriRefusedError } from '../../core/errors.js';

/**
 * Decides whether Sightline may fetch a roundup from `uri`. The URI can come
 * from a chat command, so this is the SSRF guard: only http(s), only hosts the
 * operator listed (TALOS_ALLOWED_HOSTS), no credentials in the URL, and never
 * an internal address.
 *
 * Allow-list entries are `host` (that host or any subdomain, default port only)
 * or `host:port` (that exact host and port). IP literals and localhost are
 * refused even if a bare `127.0.0.1` is listed, because a host entry means
 * "this site and its subdomains", which makes no sense for an address. The one
 * exception is an entry naming the exact `ip:port` (or `localhost:port`): the
 * operator then chose that one socket on purpose — the local Talos emulator in
 * tests and the sandbox runs on 127.0.0.1:<port> — so refusing it would only
 * force a weaker rule elsewhere.
 */
export function checkRoundupUri(uri: string, allowedHosts: string[]): URL {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new UriRefusedError(`"${shorten(uri)}" is not a valid URL; give an absolute https:// address of a Talos roundup file.`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new UriRefusedError(`Only http(s) addresses can be fetched, not ${url.protocol}; give an https:// address of a Talos roundup file.`);
  }
  if (url.username || url.password) {
    throw new UriRefusedError('Addresses with a user name or password in them are refused; remove the credentials from the URL.');
  }
  const host = normalizeHost(url.hostname);
  const defaultPort = url.port === ''; // WHATWG URL blanks the port when it is the scheme's default
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const entries = allowedHosts.map(parseEntry).filter((e): e is AllowEntry => e !== undefined);

  const exactSocket = entries.some((e) => e.port === port && e.host === host);
  if (!exactSocket) {
    if (isIP(host) !== 0) {
      throw new UriRefusedError(`Addresses given as an IP (${host}) are refused; use the roundup's host name, or allow-list the exact ip:port in TALOS_ALLOWED_HOSTS.`);
    }
    if (host === 'localhost' || host.endsWith('.localhost')) {
      throw new UriRefusedError('localhost addresses are refused; only the hosts in TALOS_ALLOWED_HOSTS can be fetched.');
    }
  }
  const allowed = exactSocket || entries.some((e) => e.port === undefined && defaultPort && hostMatches(host, e.host));
  if (!allowed) {
    const where = defaultPort ? host : `${host}:${port}`;
    throw new UriRefusedError(`${where} is not on the Talos allow-list (${allowedHosts.join(', ') || 'empty'}); add it to TALOS_ALLOWED_HOSTS if it really hosts roundups.`);
  }
  return url;
}

interface AllowEntry {
  host: string;
  port?: string;
}

function parseEntry(raw: string): AllowEntry | undefined {
  const entry = raw.trim().toLowerCase();
  if (entry === '') return undefined;
  // Parse through URL so `[::1]:8080`, `example.com:443` and IDN names normalise exactly like request URLs.
  try {
    const url = new URL(`http://${entry}`);
    const explicitPort = /:(\d+)$/.exec(entry)?.[1];
    return { host: normalizeHost(url.hostname), port: explicitPort === undefined ? undefined : String(Number(explicitPort)) };
  } catch {
    return undefined;
  }
}

/** Lower case, no trailing dot, no IPv6 brackets, so `[::1]` and `::1` compare equal for isIP. */
function normalizeHost(hostname: string): string {
  let host = hostname.toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return host;
}

function hostMatches(host: string, entry: string): boolean {
  return host === entry || (isIP(entry) === 0 && host.endsWith(`.${entry}`));
}

function shorten(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
