// What the detection flow needs from a backend (the embedded model or Triton): run one input
// tensor, say whether it can right now, and tell when that changes (for the health service).

export interface InferenceResult {
  readonly output: Float32Array;
  readonly shape: readonly number[];
}

/** The call an inference is made for. */
export interface InferenceCall {
  /** Time left before the caller's deadline (Infinity when none). */
  readonly timeoutMs: number;
  /** The request id of the gRPC call, passed on so a backend's logs can be matched. */
  readonly requestId: string;
}

export interface ModelBackend {
  /** True while calls can succeed. */
  readonly ready: boolean;
  /** Why not, for the UNAVAILABLE message. */
  readonly notReadyReason: string;
  /** Resolves the first time the backend is ready. */
  readonly firstReady: Promise<void>;
  /** Called with the new readiness whenever it changes. */
  onReadyChange(listener: (ready: boolean) => void): void;
  /** Runs one input tensor; rejects with a ServiceError (UNAVAILABLE when not ready). */
  infer(input: Float32Array, call: InferenceCall): Promise<InferenceResult>;
  close(): Promise<void>;
}

/** Readiness bookkeeping shared by the backends. */
export class Readiness {
  ready = false;
  reason = 'starting';
  private readonly listeners: Array<(ready: boolean) => void> = [];
  private resolveFirst!: () => void;
  readonly firstReady = new Promise<void>((resolve) => (this.resolveFirst = resolve));

  set(ready: boolean, reason = ''): void {
    this.reason = reason;
    if (ready === this.ready) return;
    this.ready = ready;
    if (ready) this.resolveFirst();
    for (const l of this.listeners) l(ready);
  }

  onChange(listener: (ready: boolean) => void): void {
    this.listeners.push(listener);
  }
}

/** The readiness half of ModelBackend, answered from one Readiness the subclass updates. */
export abstract class ReadinessReporting {
  protected readonly state = new Readiness();

  get ready(): boolean {
    return this.state.ready;
  }
  get notReadyReason(): string {
    return this.state.reason;
  }
  get firstReady(): Promise<void> {
    return this.state.firstReady;
  }
  onReadyChange(listener: (ready: boolean) => void): void {
    this.state.onChange(listener);
  }
}
