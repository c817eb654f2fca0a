// An in-process stand-in for NVIDIA Triton, speaking the same KServe v2 GRPCInferenceService
// (our proto/inference subset). It checks every ModelInfer request the way Triton would (model,
// tensor name, datatype, shape, byte length, and against the signature ModelMetadata declares)
// and answers with a hand-built YOLOv8 output.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import {
  GRPCInferenceServiceService,
  type GRPCInferenceServiceServer,
  type ModelInferRequest,
  type ModelInferResponse,
  type ModelMetadataResponse,
} from '../../services/shared/gen/inference/grpc_service.js';

export const YOLO_CLASSES = 80;
export const YOLO_ANCHORS = 8400;

/** A YOLOv8 box in letterboxed input pixels, with one class score. */
export interface YoloBox {
  readonly cx: number;
  readonly cy: number;
  readonly w: number;
  readonly h: number;
  readonly classId: number;
  readonly score: number;
}

/** [1, 84, 8400] channel-major, every anchor zero except the given ones. */
export function yoloOutput(boxes: readonly YoloBox[]): Float32Array {
  const out = new Float32Array((4 + YOLO_CLASSES) * YOLO_ANCHORS);
  boxes.forEach((b, i) => {
    const anchor = 100 + i * 37; // spread over the anchors, not just the first ones
    [b.cx, b.cy, b.w, b.h].forEach((v, c) => (out[c * YOLO_ANCHORS + anchor] = v));
    out[(4 + b.classId) * YOLO_ANCHORS + anchor] = b.score;
  });
  return out;
}

export interface FakeTriton {
  readonly port: number;
  readonly url: string;
  /** Every ModelInfer request received, in order. */
  readonly requests: ModelInferRequest[];
  /** The W3C `traceparent` metadata of each of those requests (undefined when none came). */
  readonly traceparents: (string | undefined)[];
  /** What ModelReady answers (and whether ModelInfer runs). */
  ready: boolean;
  /** The output answered to valid requests. */
  output: { data: Float32Array; shape: number[] };
  /** What ModelMetadata answers. */
  metadata: ModelMetadataResponse;
  /** The next ModelInfer fails with this status. */
  failNext?: { code: grpc.status; details: string };
  /** ModelReady and ModelMetadata answer this late (a Triton too busy for the readiness probe). */
  probeDelayMs: number;
  stop(): Promise<void>;
  /** Starts again on the same port. */
  start(): Promise<void>;
}

export async function startFakeTriton(model = 'yolov8n'): Promise<FakeTriton> {
  let server: grpc.Server | undefined;
  let placeholder: Server | undefined;
  const fake: FakeTriton = {
    port: 0,
    url: '',
    requests: [],
    traceparents: [],
    ready: true,
    probeDelayMs: 0,
    output: { data: yoloOutput([]), shape: [1, 4 + YOLO_CLASSES, YOLO_ANCHORS] },
    metadata: yoloMetadata(model),
    stop: async () => {
      server?.forceShutdown();
      server = undefined;
      // "Down" keeps the port: released, another process binding port 0 meanwhile (the suites run
      // in parallel and start servers all the time) could take it, and start() would then fail or,
      // worse, the service would meet someone else's server there. Connections are reset at once,
      // so clients see a Triton that is down, as they would see a refused connection.
      placeholder = await holdPort(fake.port);
    },
    start: async () => {
      if (server) return;
      await new Promise<void>((resolve) => (placeholder ? placeholder.close(() => resolve()) : resolve()));
      placeholder = undefined;
      // Triton accepts large tensors; grpc-js' default 4 MiB would refuse a 640x640 FP32 input.
      server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': 64 * 1024 * 1024 });
      server.addService(GRPCInferenceServiceService, implementation(fake, model));
      // The first start takes a port from the system (no free-port probe that another process
      // could race); later starts come back on the same one.
      const bound = await new Promise<number>((resolve, reject) =>
        server!.bindAsync(`127.0.0.1:${fake.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
      );
      Object.assign(fake, { port: bound, url: `127.0.0.1:${bound}` });
    },
  };
  await fake.start();
  return fake;
}

/** Listens on `port` and resets every connection: the port stays taken while Triton is "down". */
async function holdPort(port: number): Promise<Server> {
  for (let attempt = 0; ; attempt++) {
    const holder = createServer((socket) => socket.resetAndDestroy());
    try {
      await new Promise<void>((resolve, reject) => {
        holder.once('error', reject);
        holder.listen(port, '127.0.0.1', () => resolve());
      });
      return holder;
    } catch (err) {
      // grpc-js closes its listener asynchronously after forceShutdown.
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 100) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** The signature of a YOLOv8 ONNX export as Triton reports it. */
export function yoloMetadata(model: string): ModelMetadataResponse {
  return {
    name: model,
    versions: ['1'],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: 'images', datatype: 'FP32', shape: [1, 3, 640, 640] }],
    outputs: [{ name: 'output0', datatype: 'FP32', shape: [1, 84, 8400] }],
  };
}

const later = (ms: number, fn: () => void) => (ms > 0 ? void setTimeout(fn, ms) : fn());

function implementation(fake: FakeTriton, model: string): GRPCInferenceServiceServer {
  const fail = (code: grpc.status, details: string) => Object.assign(new Error(details), { code, details });
  return {
    serverLive: (_call, cb) => cb(null, { live: true }),
    serverReady: (_call, cb) => cb(null, { ready: fake.ready }),
    modelReady: (call, cb) => {
      if (call.request.name !== model) return cb(fail(grpc.status.NOT_FOUND, `Request for unknown model: '${call.request.name}' is not found`));
      later(fake.probeDelayMs, () => cb(null, { ready: fake.ready }));
    },
    modelMetadata: (_call, cb) => later(fake.probeDelayMs, () => cb(null, fake.metadata)),
    modelInfer: (call, cb) => {
      const req = call.request;
      fake.requests.push(req);
      fake.traceparents.push(call.metadata.get('traceparent')[0]?.toString());
      if (fake.failNext) {
        const { code, details } = fake.failNext;
        fake.failNext = undefined;
        return cb(fail(code, details));
      }
      if (req.modelName !== model) return cb(fail(grpc.status.NOT_FOUND, `Request for unknown model: '${req.modelName}' is not found`));
      if (!fake.ready) return cb(fail(grpc.status.UNAVAILABLE, `Request for unknown model: '${model}' has no available versions`));
      const problem = checkRequest(req) ?? checkSignature(req, fake.metadata);
      if (problem) return cb(fail(grpc.status.INVALID_ARGUMENT, problem));
      const bytes = Buffer.from(fake.output.data.buffer, fake.output.data.byteOffset, fake.output.data.byteLength);
      const response: ModelInferResponse = {
        modelName: model,
        modelVersion: '1',
        id: req.id,
        parameters: {},
        outputs: [{ name: 'output0', datatype: 'FP32', shape: fake.output.shape, parameters: {} }],
        rawOutputContents: [bytes],
      };
      cb(null, response);
    },
  };
}

/**
 * What Triton rejects because the loaded model declares other tensors (ModelMetadata): a client
 * that skipped the signature check never gets an answer from a model that does not fit.
 */
function checkSignature(req: ModelInferRequest, md: ModelMetadataResponse): string | undefined {
  for (const input of req.inputs) {
    const declared = md.inputs.find((t) => t.name === input.name);
    if (!declared) return `unexpected inference input '${input.name}' for model '${md.name}'`;
    if (declared.datatype !== input.datatype) return `inference input '${input.name}' data-type is '${input.datatype}', but model '${md.name}' expects '${declared.datatype}'`;
    // A 3-dimension declaration means max_batch_size > 0: the request adds the batch dimension.
    const want = declared.shape.length === input.shape.length - 1 ? [-1, ...declared.shape] : declared.shape;
    if (want.length !== input.shape.length || want.some((d, i) => d !== -1 && d !== input.shape[i])) {
      return `unexpected shape for input '${input.name}' for model '${md.name}'. Expected [${declared.shape.join(',')}], got [${input.shape.join(',')}]`;
    }
  }
  const unknown = req.outputs.find((o) => !md.outputs.some((t) => t.name === o.name));
  return unknown ? `unexpected inference output '${unknown.name}' for model '${md.name}'` : undefined;
}

/** What Triton would reject about a request for a YOLOv8 ONNX model; undefined when valid. */
function checkRequest(req: ModelInferRequest): string | undefined {
  if (req.inputs.length !== 1) return `expected 1 input, got ${req.inputs.length}`;
  const input = req.inputs[0];
  if (input.name !== 'images') return `unexpected inference input '${input.name}'`;
  if (input.datatype !== 'FP32') return `input 'images' datatype ${input.datatype}, expected FP32`;
  if (input.shape.join(',') !== '1,3,640,640') return `input 'images' shape [${input.shape.join(',')}], expected [1,3,640,640]`;
  if (req.rawInputContents.length !== 1) return `expected raw_input_contents for 1 input, got ${req.rawInputContents.length}`;
  if (req.rawInputContents[0].length !== 3 * 640 * 640 * 4) return `input 'images' has ${req.rawInputContents[0].length} bytes, expected ${3 * 640 * 640 * 4}`;
  if (req.outputs.length && !req.outputs.some((o) => o.name === 'output0')) return `unknown output requested: ${req.outputs.map((o) => o.name).join(',')}`;
  return undefined;
}

/**
 * A model registry (models.json) whose default model "yolo" is the YOLOv8 export this stand-in
 * serves as `tritonModel`, with the COCO labels: what the Triton suites start the service with.
 */
export function writeYoloRegistry(tritonModel = 'yolov8n'): string {
  const registry = join(mkdtempSync(join(tmpdir(), 'imageflow-triton-registry-')), 'models.json');
  const labels = fileURLToPath(new URL('../../services/detection/coco-labels.json', import.meta.url));
  writeFileSync(
    registry,
    JSON.stringify({ default: 'yolo', models: [{ name: 'yolo', backend: 'triton', version: '8n', decoder: 'yolov8', inputWidth: 640, inputHeight: 640, labels, tritonModel }] }),
  );
  return registry;
}

