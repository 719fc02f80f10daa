import { existsSync, readFileSync } from 'node:fs';
import { parse as parseDotenv } from 'dotenv';
import { ConfigError } from '../core/errors.js';
import { semanticProblems } from './checks.js';
import { envSchema, type Env } from './schema.js';

export type XdrRegion = 'us' | 'eu' | 'apjc';

export interface Config {
  env: Env;
  logLevel: Env['LOG_LEVEL'];
  stateFile: string;
  /** Only with DATABASE_URL: the PostgreSQL store, in place of the lowdb state file. */
  database?: { url: string; poolSize: number; leaderPollSeconds: number; retentionDays: number };
  http: { host: string; port: number; bodyLimitBytes: number; rateLimitPerMinute: number; publicUrl?: string };
  talos: {
    urlTemplate: string;
    urlIdStart: number;
    urlIdProbeMax: number;
    retryIntervalSeconds: number;
    maxRetryIterations: number;
    allowedHosts: string[];
    includeSampleHashes: boolean;
    cidrExpandMax: number;
    maxFileBytes: number;
  };
  /** The Cisco-Talos/IOCs source (per-post IOC files) and which Talos sources the weekly hunt reads. */
  talosIocs: {
    sources: Array<'iocs-repo' | 'roundup'>;
    owner: string;
    repo: string;
    branch: string;
    firstLookbackDays: number;
    apiUrl: string;
    rawUrl: string;
    token?: string;
    maxWaitSeconds: number;
  };
  schedule: { cron: string; timezone: string; runMissedOnStart: boolean };
  /** HUNT_XDR_OUTPUT: what a hunt files in XDR per threat with targets. */
  huntXdrOutput?: 'casebook' | 'incident' | 'both';
  xdr: {
    region: XdrRegion;
    clientId: string;
    clientPassword: string;
    tokenUrl: string;
    irohBase: string;
    ctiaBase: string;
    casebookUrlTemplate: string;
    incidentUrlTemplate: string;
    excludedModules: string[];
    batchSize: number;
    concurrency: number;
    cleanRule: 'any' | 'unless-malicious';
    timeoutMs: number;
    /** XDR_INCIDENT_API: incident create/read/patch/status/search path (default private-intel). */
    incidentApi?: 'private-intel' | 'ctia';
  };
  email: {
    enabled: boolean;
    host?: string;
    port: number;
    secure: boolean;
    user?: string;
    password?: string;
    from: string;
    to: string[];
  };
  webex: {
    enabled: boolean;
    token?: string;
    apiBase: string;
    mode: 'websocket' | 'webhook';
    webhookSecret?: string;
    huntRoom: string;
    incidentsRoom: string;
    roomMembers: string[];
    allowedRooms: string[];
    allowedDomains: string[];
    admins: string[];
    maxMessagesPerMinute: number;
    /** /readyz turns 503 when a notification queue's head has not moved for this long. */
    outboxStallSeconds: number;
    /** Alert storms (notify/storm.ts): digests instead of one card per incident when a room falls behind. */
    storm: { enabled: boolean; digestSeconds: number; thresholdMinutes: number };
    /** Websocket mode: the SDK's service catalog, connect bound and reconnect backoff cap. */
    u2cBase: string;
    connectTimeoutSeconds: number;
    reconnectMaxSeconds: number;
    /** HTTPS_PROXY: honoured by every outbound call and the websocket, in both modes. */
    proxyUrl?: string;
  };
  sightings: {
    hmacSecret?: string;
    bearerToken?: string;
    dedupeWindowSeconds: number;
    maxBatch: number;
    /** fdatasync the journal before each 202 (off: a power loss may lose the last accepted sightings). */
    journalFsync: boolean;
  };
  correlation: {
    rejectedIsClosed: boolean;
    ladder: string;
    oncall: string[];
    webhookUrl?: string;
    responseActions: string[];
    dryRun: boolean;
    coalesceMs: number;
    statusSyncSeconds: number;
    /** XDR_INCIDENT_SEVERITY: the severity rule (domain/correlation/severity.ts). */
    xdrSeverity?: string;
    /** Sightings per incident waiting to be copied into XDR; older ones of a burst are only counted. */
    mirrorNewestSightings?: number;
    /** XDR_MIRROR_CALLS_PER_HOUR: the XDR calls the incident mirror may make an hour (its share of the organisation's budget); 0: no limit of its own. */
    mirrorCallsPerHour?: number;
  };
  /** `investigate` from chat (issue 16). */
  investigate: { maxObservables: number; cacheSeconds: number };
  modules: {
    rssFeeds: string[];
    rssPollSeconds: number;
    x: { bearerToken?: string; apiBase: string; query: string; pollSeconds: number };
  };
  metrics: { enabled: boolean; token?: string };
}

/** `visibility.amp.cisco.com` for us, `visibility.eu.amp.cisco.com` for eu, … (xdr-api.md §1.1). */
export function regionInfix(region: XdrRegion): string {
  return region === 'us' ? '' : `.${region}`;
}

/**
 * Reads configuration from an environment (default: process.env merged over a
 * `.env` file in the working directory). Throws one ConfigError listing every
 * problem, each naming its variable.
 */
export function loadConfig(env: Record<string, string | undefined> = readProcessEnv()): Config {
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') cleaned[k] = v;
  const parsed = envSchema.safeParse(cleaned);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = issue.path.join('.') || '(environment)';
      problems.push(`${name} ${issue.message}`);
    }
  }
  problems.push(...semanticProblems(cleaned));
  if (!parsed.success) throw new ConfigError(problems);
  const e = parsed.data;
  const mode = e.WEBEX_MODE ?? (e.PUBLIC_URL ? 'webhook' : 'websocket');
  const webexEnabled = e.WEBEX_ENABLED && e.WEBEX_TOKEN !== undefined;
  if (e.WEBEX_ENABLED && cleaned.WEBEX_ENABLED === 'true' && !e.WEBEX_TOKEN)
    problems.push('WEBEX_TOKEN is required when WEBEX_ENABLED is true (the bot access token from developer.webex.com)');
  if (webexEnabled && mode === 'webhook') {
    if (!e.PUBLIC_URL) problems.push('PUBLIC_URL is required in webhook mode (the https address Webex can reach this bot on)');
    if (!e.WEBEX_WEBHOOK_SECRET || e.WEBEX_WEBHOOK_SECRET.length < 16)
      problems.push('WEBEX_WEBHOOK_SECRET must be set to at least 16 characters in webhook mode, so incoming webhooks can be verified');
  }
  const emailEnabled = e.EMAIL_ENABLED && e.SMTP_HOST !== undefined;
  if (emailEnabled && e.EMAIL_TO.length === 0) problems.push('EMAIL_TO must list at least one recipient when SMTP_HOST is set');
  if (e.SMTP_USER && !e.SMTP_PASSWORD) problems.push('SMTP_PASSWORD is required when SMTP_USER is set');
  if (problems.length > 0) throw new ConfigError(problems);

  const infix = regionInfix(e.XDR_REGION);
  return {
    env: e,
    logLevel: e.LOG_LEVEL,
    stateFile: e.STATE_FILE,
    ...(e.DATABASE_URL
      ? { database: { url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE, leaderPollSeconds: e.LEADER_POLL_SECONDS, retentionDays: e.HISTORY_RETENTION_DAYS } }
      : {}),
    http: {
      host: e.HTTP_HOST,
      port: e.HTTP_PORT,
      bodyLimitBytes: e.HTTP_BODY_LIMIT_BYTES,
      rateLimitPerMinute: e.HTTP_RATE_LIMIT_PER_MINUTE,
      publicUrl: e.PUBLIC_URL,
    },
    talos: {
      urlTemplate: e.TALOS_URL_TEMPLATE,
      urlIdStart: e.TALOS_URL_ID_START,
      urlIdProbeMax: e.TALOS_URL_ID_PROBE_MAX,
      retryIntervalSeconds: e.TALOS_RETRY_INTERVAL_SECONDS,
      maxRetryIterations: e.TALOS_MAX_RETRY_ITERATIONS,
      allowedHosts: e.TALOS_ALLOWED_HOSTS.map((h) => h.toLowerCase()),
      includeSampleHashes: e.TALOS_INCLUDE_SAMPLE_HASHES,
      cidrExpandMax: e.TALOS_CIDR_EXPAND_MAX,
      maxFileBytes: e.TALOS_MAX_FILE_BYTES,
    },
    talosIocs: {
      sources: e.TALOS_SOURCES,
      owner: e.TALOS_IOCS_REPO.split('/')[0]!,
      repo: e.TALOS_IOCS_REPO.split('/')[1]!,
      branch: e.TALOS_IOCS_BRANCH,
      firstLookbackDays: e.TALOS_IOCS_FIRST_LOOKBACK_DAYS,
      apiUrl: e.GITHUB_API_URL.replace(/\/+$/, ''),
      rawUrl: e.GITHUB_RAW_URL.replace(/\/+$/, ''),
      token: e.GITHUB_TOKEN,
      maxWaitSeconds: e.GITHUB_MAX_WAIT_SECONDS,
    },
    schedule: { cron: e.HUNT_CRON, timezone: e.HUNT_TIMEZONE, runMissedOnStart: e.HUNT_RUN_MISSED_ON_START },
    huntXdrOutput: e.HUNT_XDR_OUTPUT,
    xdr: {
      region: e.XDR_REGION,
      clientId: e.XDR_CLIENT_ID,
      clientPassword: e.XDR_CLIENT_PASSWORD,
      tokenUrl: e.XDR_TOKEN_URL ?? `https://visibility${infix}.amp.cisco.com/iroh/oauth2/token`,
      irohBase: stripSlash(e.XDR_IROH_BASE ?? `https://visibility${infix}.amp.cisco.com/iroh`),
      ctiaBase: stripSlash(e.XDR_CTIA_BASE ?? `https://private.intel${infix}.amp.cisco.com/ctia`),
      casebookUrlTemplate: e.XDR_CASEBOOK_URL_TEMPLATE ?? `https://visibility${infix}.amp.cisco.com/investigate?spid={uuid}`,
      incidentUrlTemplate: e.XDR_INCIDENT_URL_TEMPLATE ?? `https://visibility${infix}.amp.cisco.com/incidents?q=id:{shortId}#summary`,
      excludedModules: e.XDR_EXCLUDED_MODULES,
      batchSize: e.XDR_BATCH_SIZE,
      concurrency: e.XDR_CONCURRENCY,
      cleanRule: e.XDR_CLEAN_RULE,
      timeoutMs: e.XDR_TIMEOUT_MS,
      incidentApi: e.XDR_INCIDENT_API,
    },
    email: {
      enabled: emailEnabled,
      host: e.SMTP_HOST,
      port: e.SMTP_PORT,
      secure: e.SMTP_SECURE,
      user: e.SMTP_USER,
      password: e.SMTP_PASSWORD,
      from: e.EMAIL_FROM,
      to: e.EMAIL_TO,
    },
    webex: {
      enabled: webexEnabled,
      token: e.WEBEX_TOKEN,
      apiBase: stripSlash(e.WEBEX_API_BASE),
      mode,
      webhookSecret: e.WEBEX_WEBHOOK_SECRET,
      huntRoom: e.WEBEX_HUNT_ROOM,
      incidentsRoom: e.WEBEX_INCIDENTS_ROOM,
      roomMembers: e.WEBEX_ROOM_MEMBERS,
      allowedRooms: e.WEBEX_ALLOWED_ROOMS,
      allowedDomains: e.WEBEX_ALLOWED_DOMAINS.map((d) => d.toLowerCase()),
      admins: e.WEBEX_ADMINS.map((a) => a.toLowerCase()),
      maxMessagesPerMinute: e.WEBEX_MAX_MESSAGES_PER_MINUTE,
      outboxStallSeconds: e.OUTBOX_STALL_SECONDS,
      storm: { enabled: e.STORM_MODE, digestSeconds: e.STORM_DIGEST_SECONDS, thresholdMinutes: e.STORM_THRESHOLD_MINUTES },
      u2cBase: stripSlash(e.WEBEX_U2C_BASE),
      connectTimeoutSeconds: e.WEBEX_CONNECT_TIMEOUT_SECONDS,
      reconnectMaxSeconds: e.WEBEX_RECONNECT_MAX_SECONDS,
      proxyUrl: e.HTTPS_PROXY,
    },
    sightings: {
      hmacSecret: e.SIGHTINGS_HMAC_SECRET,
      bearerToken: e.SIGHTINGS_BEARER_TOKEN,
      dedupeWindowSeconds: e.SIGHTINGS_DEDUPE_WINDOW_SECONDS,
      maxBatch: e.SIGHTINGS_MAX_BATCH,
      journalFsync: e.SIGHTINGS_JOURNAL_FSYNC,
    },
    correlation: {
      rejectedIsClosed: e.CORRELATION_REJECTED_IS_CLOSED,
      ladder: e.CORRELATION_LADDER,
      oncall: e.CORRELATION_ONCALL,
      webhookUrl: e.CORRELATION_WEBHOOK_URL,
      responseActions: e.CORRELATION_RESPONSE_ACTIONS,
      dryRun: e.CORRELATION_DRY_RUN,
      coalesceMs: e.CORRELATION_COALESCE_MS,
      statusSyncSeconds: e.XDR_STATUS_SYNC_SECONDS,
      xdrSeverity: e.XDR_INCIDENT_SEVERITY,
      mirrorNewestSightings: e.XDR_MIRROR_NEWEST_SIGHTINGS,
      mirrorCallsPerHour: e.XDR_MIRROR_CALLS_PER_HOUR,
    },
    investigate: { maxObservables: e.INVESTIGATE_MAX_OBSERVABLES, cacheSeconds: e.INVESTIGATE_CACHE_SECONDS },
    modules: {
      rssFeeds: e.RSS_FEEDS,
      rssPollSeconds: e.RSS_POLL_SECONDS,
      x: { bearerToken: e.X_BEARER_TOKEN, apiBase: stripSlash(e.X_API_BASE), query: e.X_QUERY, pollSeconds: e.X_POLL_SECONDS },
    },
    metrics: { enabled: e.METRICS_ENABLED, token: e.METRICS_TOKEN },
  };
}

/** process.env wins over `.env`, so an operator can override a file value for one run. */
export function readProcessEnv(dotenvPath = '.env'): Record<string, string | undefined> {
  const fromFile = existsSync(dotenvPath) ? parseDotenv(readFileSync(dotenvPath)) : {};
  return { ...fromFile, ...process.env };
}

/** The secret values in a config, for scrubbing free text. */
export function secretsOf(c: Config): string[] {
  return [c.xdr.clientPassword, c.webex.token, c.webex.webhookSecret, c.email.password, c.sightings.hmacSecret, c.sightings.bearerToken, c.modules.x.bearerToken, c.metrics.token, c.talosIocs.token].filter(
    (s): s is string => typeof s === 'string' && s.length > 0,
  );
}

function stripSlash(u: string): string {
  return u.replace(/\/+$/, '');
}
