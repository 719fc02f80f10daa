import { z } from 'zod';

/**
 * Every setting Sightline reads, validated once at start-up. Names are the
 * environment variables; `.env.example` documents each one. Nothing reads
 * process.env after loadConfig().
 */
const bool = (dflt: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
    .optional()
    .transform((v) => (v === undefined ? dflt : ['true', '1', 'yes'].includes(v)));

const int = (dflt: number, min: number, max: number) =>
  z.coerce
    .number({ error: 'must be a whole number' })
    .int({ error: 'must be a whole number' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` })
    .default(dflt);

const list = (dflt: string[] = []) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined ? dflt : v.split(',').map((s) => s.trim()).filter(Boolean)));

const url = z.url({ error: 'must be an absolute http(s) URL' });
const optionalUrl = url.optional();
const emailList = list().pipe(z.array(z.email({ error: 'must be a comma-separated list of e-mail addresses' })));

export const GITHUB_TEMPLATE = 'https://raw.githubusercontent.com/Cisco-Talos/Threat-Round-Up/master/{yyyy}/{mmdd}.json';
export const S3_TEMPLATE =
  'https://s3.amazonaws.com/talos-intelligence-site/production/document_files/files/000/095/{urlId}/original/{yyyymmdd}-tru.json.txt';

/** XDR_INCIDENT_SEVERITY default: by sighting count, raised by the ladder rungs reached (see README). */
export const DEFAULT_INCIDENT_SEVERITY = '1 -> Low; 2 -> Medium; 3 -> High; mention -> High; respond -> Critical';

export const envSchema = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  STATE_FILE: z.string().min(1).default('./state/sightline.json'),
  // PostgreSQL (issue 15): set, it replaces the lowdb state file; several instances may share it.
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL, e.g. postgres://sightline:password@db:5432/sightline' })
    .optional(),
  DATABASE_POOL_SIZE: int(10, 2, 100),
  LEADER_POLL_SECONDS: int(5, 1, 60),
  HISTORY_RETENTION_DAYS: int(365, 1, 36500),
  // Applied by `npm start` / `sightline start` as node's --max-old-space-size (the process reads it only to check it at start).
  SIGHTLINE_MAX_HEAP_MB: int(256, 64, 65_536),
  HTTP_HOST: z.string().default('127.0.0.1'),
  HTTP_PORT: int(8080, 0, 65535),
  HTTP_BODY_LIMIT_BYTES: int(1_048_576, 1024, 64 * 1_048_576),
  HTTP_RATE_LIMIT_PER_MINUTE: int(6000, 1, 1_000_000),
  PUBLIC_URL: optionalUrl,

  TALOS_URL_TEMPLATE: z
    .string()
    .default(GITHUB_TEMPLATE)
    .refine((t) => /\{(yyyy|mmdd|yyyymmdd|urlId)\}/.test(t), { error: 'must contain {yyyy}/{mmdd}, {yyyymmdd} or {urlId}' }),
  TALOS_URL_ID_START: int(597, 0, 10_000_000),
  TALOS_URL_ID_PROBE_MAX: int(50, 1, 1000),
  TALOS_RETRY_INTERVAL_SECONDS: int(3600, 1, 7 * 86400),
  TALOS_MAX_RETRY_ITERATIONS: int(24, 0, 1000),
  TALOS_ALLOWED_HOSTS: list(['raw.githubusercontent.com', 's3.amazonaws.com', 'talosintelligence.com', 'blog.talosintelligence.com']),
  TALOS_INCLUDE_SAMPLE_HASHES: bool(false),
  TALOS_CIDR_EXPAND_MAX: int(4, 1, 256),
  TALOS_MAX_FILE_BYTES: int(20 * 1_048_576, 1024, 200 * 1_048_576),
  // What Talos publishes today: per-post IOC files in Cisco-Talos/IOCs (the roundup stopped in November 2023).
  TALOS_SOURCES: list(['iocs-repo', 'roundup']).pipe(
    z.array(z.enum(['iocs-repo', 'roundup'], { error: 'must list iocs-repo and/or roundup' })).min(1, { error: 'must name at least one source' }),
  ),
  TALOS_IOCS_REPO: z.string().regex(/^[\w.-]+\/[\w.-]+$/, { error: 'must be owner/name, e.g. Cisco-Talos/IOCs' }).default('Cisco-Talos/IOCs'),
  TALOS_IOCS_BRANCH: z.string().min(1).default('main'),
  TALOS_IOCS_FIRST_LOOKBACK_DAYS: int(7, 1, 365),
  GITHUB_API_URL: url.default('https://api.github.com'),
  GITHUB_RAW_URL: url.default('https://raw.githubusercontent.com'),
  GITHUB_TOKEN: z.string().min(1).optional(),
  GITHUB_MAX_WAIT_SECONDS: int(3900, 0, 86400),
  HUNT_CRON: z.string().default('0 18 * * 5'),
  HUNT_TIMEZONE: z.string().default('America/New_York'),
  HUNT_RUN_MISSED_ON_START: bool(true),

  XDR_REGION: z.enum(['us', 'eu', 'apjc'], { error: 'must be us, eu or apjc' }).default('us'),
  XDR_CLIENT_ID: z.string({ error: 'is required (the XDR API client id)' }).min(1, { error: 'is required (the XDR API client id)' }),
  XDR_CLIENT_PASSWORD: z
    .string({ error: 'is required (the XDR API client password)' })
    .min(1, { error: 'is required (the XDR API client password)' }),
  XDR_TOKEN_URL: optionalUrl,
  XDR_IROH_BASE: optionalUrl,
  XDR_CTIA_BASE: optionalUrl,
  XDR_CASEBOOK_URL_TEMPLATE: z.string().optional(),
  XDR_INCIDENT_URL_TEMPLATE: z.string().optional(),
  XDR_EXCLUDED_MODULES: list(['SecureX Global Threat Intelligence', 'Talos Intelligence', 'AMP File Reputation']),
  XDR_BATCH_SIZE: int(50, 1, 1000),
  XDR_CONCURRENCY: int(4, 1, 64),
  XDR_CLEAN_RULE: z.enum(['any', 'unless-malicious'], { error: 'must be any or unless-malicious' }).default('unless-malicious'),
  XDR_TIMEOUT_MS: int(30_000, 100, 600_000),
  // Issue 18: which API family creates and manages incidents, and how they are ranked.
  XDR_INCIDENT_API: z.enum(['private-intel', 'ctia'], { error: 'must be private-intel or ctia' }).default('private-intel'),
  XDR_INCIDENT_SEVERITY: z.string().default(DEFAULT_INCIDENT_SEVERITY),
  HUNT_XDR_OUTPUT: z.enum(['casebook', 'incident', 'both'], { error: 'must be casebook, incident or both' }).default('casebook'),

  EMAIL_ENABLED: bool(true),
  SMTP_HOST: z.string().optional(),
  SMTP_PORT: int(587, 1, 65535),
  SMTP_SECURE: bool(false),
  SMTP_USER: z.string().optional(),
  SMTP_PASSWORD: z.string().optional(),
  EMAIL_FROM: z.email({ error: 'must be an e-mail address' }).default('sightline@localhost'),
  EMAIL_TO: emailList,

  WEBEX_ENABLED: bool(true),
  WEBEX_TOKEN: z.string().optional(),
  WEBEX_API_BASE: url.default('https://webexapis.com/v1'),
  WEBEX_MODE: z.enum(['websocket', 'webhook'], { error: 'must be websocket or webhook' }).optional(),
  WEBEX_WEBHOOK_SECRET: z.string().optional(),
  WEBEX_HUNT_ROOM: z.string().min(1).default('TALOS ROUNDUP Investigation'),
  WEBEX_INCIDENTS_ROOM: z.string().min(1).default('Sightline Incidents'),
  WEBEX_ROOM_MEMBERS: emailList,
  WEBEX_ALLOWED_ROOMS: list(),
  WEBEX_ALLOWED_DOMAINS: list(),
  WEBEX_ADMINS: emailList,
  WEBEX_MAX_MESSAGES_PER_MINUTE: int(60, 1, 6000),
  OUTBOX_STALL_SECONDS: int(900, 30, 7 * 86400),
  STORM_MODE: bool(true),
  STORM_DIGEST_SECONDS: int(60, 10, 3600),
  STORM_THRESHOLD_MINUTES: int(3, 1, 120),
  WEBEX_U2C_BASE: url.default('https://u2c.wbx2.com/u2c/api/v1'),
  WEBEX_CONNECT_TIMEOUT_SECONDS: int(30, 1, 600),
  WEBEX_RECONNECT_MAX_SECONDS: int(60, 1, 3600),
  HTTPS_PROXY: optionalUrl,

  SIGHTINGS_HMAC_SECRET: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  SIGHTINGS_BEARER_TOKEN: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  SIGHTINGS_DEDUPE_WINDOW_SECONDS: int(300, 0, 7 * 86400),
  SIGHTINGS_MAX_BATCH: int(1000, 1, 100_000),
  SIGHTINGS_JOURNAL_FSYNC: bool(true),
  CORRELATION_REJECTED_IS_CLOSED: bool(true),
  CORRELATION_LADDER: z.string().default('eq 2 -> notify; gte 3 -> mention; gte 5 -> respond'),
  CORRELATION_ONCALL: emailList,
  CORRELATION_WEBHOOK_URL: optionalUrl,
  CORRELATION_RESPONSE_ACTIONS: list(),
  CORRELATION_DRY_RUN: bool(false),
  CORRELATION_COALESCE_MS: int(5000, 0, 600_000),
  XDR_STATUS_SYNC_SECONDS: int(300, 0, 86400),
  INVESTIGATE_MAX_OBSERVABLES: int(200, 1, 5000),
  INVESTIGATE_CACHE_SECONDS: int(300, 0, 86400),
  XDR_MIRROR_NEWEST_SIGHTINGS: int(20, 1, 1000),
  // Half of XDR's 8,000 requests an hour per organisation; 0: no limit of the mirror's own.
  XDR_MIRROR_CALLS_PER_HOUR: int(4000, 0, 1_000_000),

  RSS_FEEDS: list().pipe(z.array(url)),
  RSS_POLL_SECONDS: int(3600, 5, 7 * 86400),
  X_BEARER_TOKEN: z.string().optional(),
  X_API_BASE: url.default('https://api.twitter.com/2'),
  X_QUERY: z.string().default('#opendir'),
  X_POLL_SECONDS: int(3600, 5, 7 * 86400),

  METRICS_ENABLED: bool(false),
  METRICS_TOKEN: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
});

export type Env = z.output<typeof envSchema>;
