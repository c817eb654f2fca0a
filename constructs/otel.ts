// OpenTelemetry export settings for the platform: the OTEL_* variables the processes read
// (services/shared/tracing.ts and the OpenTelemetry SDK it configures) and where the collector is,
// so the NetworkPolicies can let spans out.
import { requireDns1123Label, requirePort } from './invariants.js';

/** OTLP/HTTP's registered port. */
export const OTLP_HTTP_PORT = 4318;

export interface OtelProps {
  /**
   * Base URL of an OTLP/HTTP collector, e.g. "http://otel-collector.observability:4318"; spans go
   * to `<endpoint>/v1/traces` (OTEL_EXPORTER_OTLP_ENDPOINT).
   */
  readonly endpoint: string;
  /**
   * Namespace of the collector pods, for the egress NetworkPolicy.
   * @default read from an in-cluster host "<service>.<namespace>[.svc[.cluster.local]]"; the
   * platform's namespace for a bare "<service>"
   */
  readonly namespace?: string;
  /** Labels of the collector pods. @default every pod of `namespace` */
  readonly podLabels?: Readonly<Record<string, string>>;
  /**
   * The port the collector pods listen on. A NetworkPolicy sees the pod's port, not the Service's,
   * so set it when the Service maps another port.
   * @default the endpoint's port; without one, 4318 in the cluster and the scheme's (443/80) for
   * `cidrs`
   */
  readonly port?: number;
  /** A collector outside the cluster: allow egress to these CIDRs instead of a namespace. @default none */
  readonly cidrs?: readonly string[];
  /** Fraction of new traces kept (parent-based: a sampled caller's trace is always kept). @default 1 */
  readonly samplingRatio?: number;
}

/** Where spans go, resolved: the env for the processes and the peer for the NetworkPolicy. */
export interface ResolvedOtel {
  readonly env: Readonly<Record<string, string>>;
  readonly port: number;
  /** In-cluster collector: its namespace (and pod labels). */
  readonly namespace?: string;
  readonly podLabels?: Readonly<Record<string, string>>;
  /** External collector. */
  readonly cidrs?: readonly string[];
}

/** `ownNamespace`: where a bare service name (no dot) resolves, i.e. the platform's namespace. */
export function resolveOtel(props: OtelProps, ownNamespace: string): ResolvedOtel {
  let url: URL;
  try {
    url = new URL(props.endpoint);
  } catch {
    throw new Error(`otel.endpoint "${props.endpoint}" is not a URL; give the collector's OTLP/HTTP base URL, e.g. http://otel-collector.observability:4318`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`otel.endpoint "${props.endpoint}" must be http:// or https:// (the services export OTLP over HTTP)`);
  // Outside the cluster the exporter connects where the URL says (443/80 when it names no port);
  // inside, a Service may map its port, and collector pods listen on OTLP's 4318.
  const urlPort = url.port ? Number(url.port) : props.cidrs?.length ? (url.protocol === 'https:' ? 443 : 80) : OTLP_HTTP_PORT;
  const port = requirePort('otel.port', props.port ?? urlPort);
  const ratio = props.samplingRatio;
  if (ratio !== undefined && !(ratio >= 0 && ratio <= 1)) throw new Error(`otel.samplingRatio ${ratio} must be between 0 and 1`);
  const env: Record<string, string> = {
    // Explicit, so tracing is on even if a later default changes; the endpoint alone would do today.
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: props.endpoint.replace(/\/+$/, ''),
    ...(ratio !== undefined ? { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: String(ratio) } : {}),
  };
  if (props.cidrs?.length) {
    if (props.namespace || props.podLabels) throw new Error('otel: give either cidrs (a collector outside the cluster) or namespace/podLabels, not both');
    return { env, port, cidrs: props.cidrs };
  }
  // "<service>" (this namespace) or "<service>.<namespace>", optionally followed by ".svc" or ".svc.cluster.local".
  const inCluster = /^[a-z0-9-]+(?:\.([a-z0-9-]+)(?:\.svc(?:\.cluster\.local)?)?)?$/.exec(url.hostname);
  const namespace = props.namespace ?? (inCluster ? (inCluster[1] ?? ownNamespace) : undefined);
  if (!namespace)
    throw new Error(
      `otel: cannot tell the collector's namespace from "${url.hostname}"; set otel.namespace (in-cluster collector) or otel.cidrs (outside the cluster) so the NetworkPolicy lets spans out`,
    );
  return { env, port, namespace: requireDns1123Label('otel.namespace', namespace), podLabels: props.podLabels };
}
