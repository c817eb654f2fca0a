import * as kplus from 'cdk8s-plus-27';
import { requirePort } from './invariants.js';

/** Timing shared by every probe kind; Kubernetes' own defaults apply to what is left out. */
export interface ProbeTiming {
  /** @default 0 */
  readonly initialDelaySeconds?: number;
  /** @default 10 */
  readonly periodSeconds?: number;
  /** @default 3 */
  readonly timeoutSeconds?: number;
  /** @default 3 */
  readonly failureThreshold?: number;
}

/**
 * A container probe rendered as the raw Kubernetes JSON. cdk8s-plus-27 cannot express a native
 * `grpc` probe, so every probe of a {@link HardenedWorkload} is written with a JSON patch from
 * this one value object: one code path for gRPC, HTTP and TCP probes.
 */
export class WorkloadProbe {
  /** A native Kubernetes gRPC probe against `grpc.health.v1.Health/Check` (`service` "" = whole server). */
  public static grpc(port: number, timing: ProbeTiming = {}, service?: string): WorkloadProbe {
    requirePort('gRPC probe port', port);
    return new WorkloadProbe(port, { grpc: service ? { port, service } : { port } }, timing);
  }

  /** An HTTP GET probe; a 2xx/3xx answer is success. */
  public static httpGet(path: string, port: number, timing: ProbeTiming = {}): WorkloadProbe {
    requirePort('HTTP probe port', port);
    if (!path.startsWith('/')) throw new Error(`HTTP probe path "${path}" must start with "/".`);
    return new WorkloadProbe(port, { httpGet: { path, port: kplus.k8s.IntOrString.fromNumber(port), scheme: 'HTTP' } }, timing);
  }

  /** A TCP connect probe, for servers whose health endpoint a kubelet cannot call (e.g. mTLS gRPC). */
  public static tcp(port: number, timing: ProbeTiming = {}): WorkloadProbe {
    requirePort('TCP probe port', port);
    return new WorkloadProbe(port, { tcpSocket: { port: kplus.k8s.IntOrString.fromNumber(port) } }, timing);
  }

  private constructor(
    /** The container port the probe targets; {@link HardenedWorkload} checks it is declared. */
    public readonly port: number,
    private readonly handler: Record<string, unknown>,
    private readonly timing: ProbeTiming,
  ) {}

  /**
   * The `Probe` for a JSON patch on a `KubeDeployment`. Its serializer runs after the patches,
   * so ports are `IntOrString` objects (a bare number there would render as nothing).
   */
  public toJson(): Record<string, unknown> {
    const t = this.timing;
    return {
      ...this.handler,
      ...(t.initialDelaySeconds !== undefined ? { initialDelaySeconds: t.initialDelaySeconds } : {}),
      periodSeconds: t.periodSeconds ?? 10,
      timeoutSeconds: t.timeoutSeconds ?? 3,
      failureThreshold: t.failureThreshold ?? 3,
    };
  }
}
