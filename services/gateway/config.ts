// The gateway's configuration: environment variables parsed once at start-up with zod. A bad
// value stops the process with a message naming the variable (see services/shared/config.ts).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, LogLevel, envInt, envOptionalString, envPort, envString, grpcFlowControlWindowBytes, parseEnv } from '../shared/config.js';
import { BucketName } from '../shared/http-api.js';
import { clientTlsFiles, type ClientTlsFiles } from '../shared/grpc-client-tls.js';

const emptyAsUndefined = (v: unknown) => (v === '' ? undefined : v);

/** `host:port` (or `dns:///host:port`, `unix:...`): what grpc-js accepts as a target. Empty: not configured. */
const grpcEndpoint = () =>
  z.preprocess(
    emptyAsUndefined,
    z
      .string()
      .regex(/^(dns:|unix:|ipv4:|ipv6:|[^\s/:]+:\d+$|\[[0-9a-fA-F:]+\]:\d+$)/, 'expected host:port (e.g. resize:9090)')
      .optional(),
  );

/** Comma-separated list, blanks dropped. */
const envList = () =>
  z.preprocess(
    (v) => (typeof v === 'string' && v.trim() !== '' ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined),
    z.array(z.string()).optional(),
  );

export const GatewayEnvSchema = z.object({
  HTTP_HOST: envString('0.0.0.0'),
  /** 0 picks a free port (tests). */
  HTTP_PORT: envPort(8080),
  LOG_LEVEL: LogLevel,
  RESIZE_GRPC_ENDPOINT: grpcEndpoint(),
  FILTER_GRPC_ENDPOINT: grpcEndpoint(),
  AI_DETECTION_GRPC_ENDPOINT: grpcEndpoint(),
  /** Must equal the services' DEFAULT_BUCKET: the fused pipeline derives keys in it. */
  DEFAULT_BUCKET: z.preprocess(emptyAsUndefined, BucketName.default('imageflow')),
  /** Buckets requests may read or write; unset: any. */
  ALLOWED_BUCKETS: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() !== '' ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined),
    z.array(BucketName).optional(),
  ),
  GATEWAY_API_KEYS: envList(),
  GATEWAY_API_KEYS_FILE: envOptionalString(),
  /** Largest request body (raw image bytes or JSON with base64). Larger ones get 413 before being read. */
  MAX_BODY_BYTES: envInt(64 * 1024 * 1024, 1024, 2 ** 31 - 1),
  /**
   * Request bodies held at once (by Content-Length, MAX_BODY_BYTES when unknown); past it new
   * requests get 503 "busy" before their body is read. One request is always admitted. 0: no budget.
   * 128 MiB: the gateway holds ~2.5x each admitted body (the body, the HTTP/2 frame grpc-js copies
   * it into, socket chunks not yet collected); a burst of 30 MiB uploads stayed at 385 MiB RSS
   * against the Deployment's 512 MiB (RELIABILITY.md), and eight 24 MP JPEGs fit at once.
   */
  MAX_INFLIGHT_REQUEST_BYTES: envInt(128 * 1024 * 1024, 0, 2 ** 40),
  GRPC_MAX_MESSAGE_BYTES: envInt(96 * 1024 * 1024, 1024, 2 ** 31 - 1),
  /** Deadline of one operation, retries included. */
  RESIZE_DEADLINE_MS: envInt(30_000, 10),
  FILTER_DEADLINE_MS: envInt(30_000, 10),
  DETECT_DEADLINE_MS: envInt(60_000, 10),
  /** Deadline of a whole /v1/pipeline request. */
  PIPELINE_DEADLINE_MS: envInt(120_000, 10),
  HEALTH_DEADLINE_MS: envInt(2_000, 10),
  /** Attempts per call when the upstream answers UNAVAILABLE (1 = no retry). */
  RETRY_MAX_ATTEMPTS: envInt(3, 1, 10),
  RETRY_BASE_DELAY_MS: envInt(50, 1),
  RETRY_MAX_DELAY_MS: envInt(1_000, 1),
  /** Consecutive failures (unreachable, deadline) that open an upstream's circuit. */
  BREAKER_FAILURE_THRESHOLD: envInt(5, 1),
  /** How long an open circuit answers 503 before letting one probe call through. */
  BREAKER_OPEN_MS: envInt(5_000, 10),
  /** Reconnect back-off cap (grpc-channel.ts): how soon a restarted service is noticed. */
  GRPC_MAX_RECONNECT_BACKOFF_MS: envInt(2_000, 100),
  GRPC_KEEPALIVE_MS: envInt(30_000, 10_000),
  /** HTTP/2 connections per upstream, used round-robin: more flow-control window for large images. */
  GRPC_CHANNELS_PER_UPSTREAM: envInt(2, 1, 16),
  /** HTTP/2 receive window of the gateway's connections (bytes): large answers in fewer round trips. */
  GRPC_FLOW_CONTROL_WINDOW_BYTES: grpcFlowControlWindowBytes,
  SHUTDOWN_GRACE_MS: envInt(25_000, 0),
  /** Requests per second per caller (API key, or client address when auth is off) on /v1/*; 0: no limit. */
  GATEWAY_RATE_LIMIT_RPS: z.preprocess(emptyAsUndefined, z.coerce.number().min(0).max(1_000_000).default(0)),
  /** Requests a caller may make at once after a quiet period. Default: max(1, the rate). */
  GATEWAY_RATE_LIMIT_BURST: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(1).max(1_000_000).optional()),
  /** TLS to the services (the variables the services read): the CA verifies them; cert + key add mTLS. */
  GRPC_TLS_CA_FILE: envOptionalString(),
  GRPC_TLS_CERT_FILE: envOptionalString(),
  GRPC_TLS_KEY_FILE: envOptionalString(),
});
export type GatewayEnv = z.infer<typeof GatewayEnvSchema>;

export type UpstreamName = 'resize' | 'filter' | 'detection';

export interface GatewayConfig {
  readonly host: string;
  readonly port: number;
  readonly logLevel: string;
  readonly endpoints: Readonly<Record<UpstreamName, string | undefined>>;
  readonly defaultBucket: string;
  readonly allowedBuckets?: ReadonlySet<string>;
  /** Undefined: authentication off. */
  readonly apiKeys?: readonly string[];
  readonly maxBodyBytes: number;
  /** 0: no budget. */
  readonly maxInflightRequestBytes: number;
  readonly grpcMaxMessageBytes: number;
  readonly deadlinesMs: { readonly resize: number; readonly filter: number; readonly detect: number; readonly pipeline: number; readonly health: number };
  readonly retry: { readonly maxAttempts: number; readonly baseDelayMs: number; readonly maxDelayMs: number };
  readonly breaker: { readonly failureThreshold: number; readonly openMs: number };
  readonly grpcMaxReconnectBackoffMs: number;
  readonly grpcKeepaliveMs: number;
  readonly grpcChannelsPerUpstream: number;
  readonly grpcFlowControlWindowBytes: number;
  readonly shutdownGraceMs: number;
  /** Undefined: no rate limit. */
  readonly rateLimit?: { readonly ratePerSec: number; readonly burst?: number };
  /** From GRPC_TLS_CA_FILE / GRPC_TLS_CERT_FILE / GRPC_TLS_KEY_FILE; undefined: plaintext. */
  readonly grpcTls?: ClientTlsFiles;
}

/** Parses the environment; throws ConfigError naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const e = parseEnv(GatewayEnvSchema, env);
  return {
    host: e.HTTP_HOST,
    port: e.HTTP_PORT,
    logLevel: e.LOG_LEVEL,
    endpoints: { resize: e.RESIZE_GRPC_ENDPOINT, filter: e.FILTER_GRPC_ENDPOINT, detection: e.AI_DETECTION_GRPC_ENDPOINT },
    defaultBucket: e.DEFAULT_BUCKET,
    allowedBuckets: e.ALLOWED_BUCKETS ? new Set(e.ALLOWED_BUCKETS) : undefined,
    apiKeys: apiKeys(e),
    maxBodyBytes: e.MAX_BODY_BYTES,
    maxInflightRequestBytes: e.MAX_INFLIGHT_REQUEST_BYTES,
    grpcMaxMessageBytes: e.GRPC_MAX_MESSAGE_BYTES,
    deadlinesMs: {
      resize: e.RESIZE_DEADLINE_MS,
      filter: e.FILTER_DEADLINE_MS,
      detect: e.DETECT_DEADLINE_MS,
      pipeline: e.PIPELINE_DEADLINE_MS,
      health: e.HEALTH_DEADLINE_MS,
    },
    retry: { maxAttempts: e.RETRY_MAX_ATTEMPTS, baseDelayMs: e.RETRY_BASE_DELAY_MS, maxDelayMs: e.RETRY_MAX_DELAY_MS },
    breaker: { failureThreshold: e.BREAKER_FAILURE_THRESHOLD, openMs: e.BREAKER_OPEN_MS },
    grpcMaxReconnectBackoffMs: e.GRPC_MAX_RECONNECT_BACKOFF_MS,
    grpcKeepaliveMs: e.GRPC_KEEPALIVE_MS,
    grpcChannelsPerUpstream: e.GRPC_CHANNELS_PER_UPSTREAM,
    grpcFlowControlWindowBytes: e.GRPC_FLOW_CONTROL_WINDOW_BYTES,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    grpcTls: clientTlsFiles(e),
    rateLimit: e.GATEWAY_RATE_LIMIT_RPS > 0 ? { ratePerSec: e.GATEWAY_RATE_LIMIT_RPS, burst: e.GATEWAY_RATE_LIMIT_BURST } : undefined,
  };
}

/** Keys from GATEWAY_API_KEYS and the file named by GATEWAY_API_KEYS_FILE (one per line, # comments). */
function apiKeys(e: GatewayEnv): string[] | undefined {
  const keys = [...(e.GATEWAY_API_KEYS ?? [])];
  if (e.GATEWAY_API_KEYS_FILE) {
    let text: string;
    try {
      text = readFileSync(e.GATEWAY_API_KEYS_FILE, 'utf8');
    } catch (err) {
      throw new ConfigError(`invalid configuration:\n  GATEWAY_API_KEYS_FILE=${JSON.stringify(e.GATEWAY_API_KEYS_FILE)}: cannot read it (${(err as Error).message})`);
    }
    for (const line of text.split(/\r?\n/)) {
      const key = line.trim();
      if (key && !key.startsWith('#')) keys.push(...key.split(',').map((k) => k.trim()).filter(Boolean));
    }
    if (keys.length === 0) {
      throw new ConfigError(`invalid configuration:\n  GATEWAY_API_KEYS_FILE=${JSON.stringify(e.GATEWAY_API_KEYS_FILE)}: the file holds no key`);
    }
  }
  return keys.length > 0 ? keys : undefined;
}
