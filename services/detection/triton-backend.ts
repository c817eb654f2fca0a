// The Triton backend: sends the preprocessed tensor to a model served by Triton and watches the
// model's readiness periodically so the health service reports an outage without waiting for
// a call to fail.
import { Code, ServiceError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { ModelInferRequest, ModelMetadataResponse } from '../shared/gen/inference/grpc_service.js';
import type { TritonModelSpec } from './model-registry.js';
import { type InferenceCall, type InferenceResult, type ModelBackend, ReadinessReporting } from './model-backend.js';
import { float32FromLE, float32ToLE } from './tensor-bytes.js';
import { TritonClient } from './triton-client.js';

export interface TritonBackendOptions {
  readonly timeoutMs: number;
  readonly healthIntervalMs: number;
}

export class TritonBackend extends ReadinessReporting implements ModelBackend {
  private readonly client: TritonClient;
  private readonly timer: NodeJS.Timeout;
  private checking = false;
  /** null: the model's signature fits; a string: why not (read again each probe); undefined: not read since (re)connecting. */
  private signatureProblem?: string | null;

  constructor(
    readonly spec: TritonModelSpec,
    private readonly options: TritonBackendOptions,
    private readonly logger: Logger,
  ) {
    super();
    this.client = new TritonClient(spec.url);
    this.state.reason = `Triton model "${spec.tritonModel}" at ${spec.url} not checked yet`;
    this.state.onChange((ready) =>
      ready
        ? logger.info({ model: spec.name, url: spec.url }, 'Triton model ready')
        : logger.warn({ model: spec.name, url: spec.url, reason: this.state.reason }, 'Triton model not ready'),
    );
    this.timer = setInterval(() => void this.check(), options.healthIntervalMs);
    this.timer.unref();
    void this.check();
  }

  /**
   * One readiness probe: ModelReady for our model and version, and its metadata after each
   * (re)connection and while it does not fit, so a model whose tensors do not match the registry
   * entry is reported, not called.
   */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    const { spec } = this;
    const timeoutMs = Math.min(2_000, this.options.timeoutMs);
    try {
      if (!(await this.client.modelReady(spec.tritonModel, spec.tritonVersion, timeoutMs))) {
        this.state.set(false, `Triton at ${spec.url} reports model "${spec.tritonModel}" not ready`);
        return;
      }
      if (this.signatureProblem !== null) {
        this.signatureProblem = signatureProblem(await this.client.modelMetadata(spec.tritonModel, spec.tritonVersion, timeoutMs), spec) ?? null;
      }
      this.state.set(!this.signatureProblem, this.signatureProblem ?? '');
    } catch (err) {
      // A lost connection may come back with another model: read it again. A probe that timed
      // out (Triton busy) says nothing about the model, so a known mismatch stays known.
      if ((err as ServiceError).code !== Code.DEADLINE_EXCEEDED) this.signatureProblem = undefined;
      this.state.set(false, (err as Error).message);
    } finally {
      this.checking = false;
    }
  }

  async infer(input: Float32Array, call: InferenceCall): Promise<InferenceResult> {
    const { spec } = this;
    const shape = [1, 3, spec.inputHeight, spec.inputWidth];
    const request: ModelInferRequest = {
      modelName: spec.tritonModel,
      modelVersion: spec.tritonVersion,
      // Triton echoes the id and logs it: the same id as in our logs and the gateway's.
      id: call.requestId,
      parameters: {},
      inputs: [{ name: spec.inputName, datatype: 'FP32', shape, parameters: {} }],
      outputs: [{ name: spec.outputName, parameters: {} }],
      rawInputContents: [float32ToLE(input)],
    };
    if (this.signatureProblem) throw new ServiceError(Code.UNAVAILABLE, this.signatureProblem);
    let response;
    try {
      // Always try, even when the last probe failed: grpc-js fails fast while disconnected, and
      // a success proves Triton is back before the next probe would.
      response = await this.client.modelInfer(request, Math.min(call.timeoutMs, this.options.timeoutMs));
    } catch (err) {
      if ((err as ServiceError).code === Code.UNAVAILABLE) this.state.set(false, (err as Error).message);
      throw err;
    }
    this.state.set(true);
    const index = response.outputs.findIndex((o) => o.name === spec.outputName);
    const tensor = response.outputs[index];
    if (!tensor) throw internal(`Triton's answer has no output "${spec.outputName}" (got ${response.outputs.map((o) => o.name).join(', ') || 'none'})`);
    if (tensor.datatype !== 'FP32') throw internal(`Triton's output "${spec.outputName}" is ${tensor.datatype}, expected FP32`);
    const output = response.rawOutputContents[index]
      ? float32FromLE(response.rawOutputContents[index])
      : Float32Array.from(tensor.contents?.fp32Contents ?? []);
    const expected = tensor.shape.reduce((a, b) => a * b, 1);
    if (output.length !== expected) {
      throw internal(`Triton's output "${spec.outputName}" has ${output.length} values for shape [${tensor.shape.join(',')}]`);
    }
    return { output, shape: tensor.shape };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.client.close();
  }
}

const internal = (message: string) => new ServiceError(Code.INTERNAL, message);

/** What makes Triton's model unusable with this registry entry; undefined when it fits. */
export function signatureProblem(md: ModelMetadataResponse, spec: TritonModelSpec): string | undefined {
  const want = [1, 3, spec.inputHeight, spec.inputWidth];
  const input = md.inputs.find((t) => t.name === spec.inputName);
  const where = `Triton model "${spec.tritonModel}" at ${spec.url}`;
  if (!input) return `${where} has no input "${spec.inputName}" (inputs: ${md.inputs.map((t) => t.name).join(', ') || 'none'}); fix the registry entry "${spec.name}"`;
  // -1 is a variable dimension; Triton may also omit the batch dimension (max_batch_size > 0).
  const shape = input.shape.length === 3 ? [-1, ...input.shape] : input.shape;
  const fits = input.datatype === 'FP32' && shape.length === 4 && shape.every((d, i) => d === -1 || d === want[i]);
  if (!fits) return `${where} input "${input.name}" is ${input.datatype} [${input.shape.join(',')}], the "${spec.decoder}" decoder sends FP32 [${want.join(',')}]`;
  if (!md.outputs.some((t) => t.name === spec.outputName)) {
    return `${where} has no output "${spec.outputName}" (outputs: ${md.outputs.map((t) => t.name).join(', ') || 'none'}); fix the registry entry "${spec.name}"`;
  }
  return undefined;
}
