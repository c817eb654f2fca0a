// One model ready to answer: preprocess for its decoder, run the backend, decode, select.
import { Code, ServiceError, imageError } from '../shared/errors.js';
import { type CodecSettings, type DecodedHeader, openImage } from '../shared/image-codec.js';
import { decodeCenternet } from './centernet-decoder.js';
import { letterboxGeometry } from './letterbox.js';
import type { InferenceCall, ModelBackend } from './model-backend.js';
import type { ModelSpec } from './model-registry.js';
import { type Candidate, type Selection, selectDetections } from './nms.js';
import { letterboxedNchw01, stretchedNhwc255 } from './preprocess.js';
import { decodeYolov8 } from './yolov8-decoder.js';
import { serviceMetrics } from '../shared/metrics.js';
import { withSpan } from '../shared/tracing.js';

export interface DetectorRun {
  readonly detections: Candidate[];
  readonly preprocessMs: number;
  readonly inferenceMs: number;
  readonly postprocessMs: number;
}

export class Detector {
  constructor(
    readonly spec: ModelSpec,
    readonly backend: ModelBackend,
  ) {}

  async run(data: Buffer, header: DecodedHeader, codec: CodecSettings, selection: Selection, call: InferenceCall): Promise<DetectorRun> {
    const { spec } = this;
    const image = { width: header.width, height: header.height };
    const t0 = performance.now();
    let input: Float32Array;
    const letterbox = letterboxGeometry(image.width, image.height, spec.inputWidth, spec.inputHeight);
    try {
      input =
        spec.decoder === 'centernet'
          ? await stretchedNhwc255(openImage(data, codec), spec.inputWidth, spec.inputHeight)
          : await letterboxedNchw01(openImage(data, codec), letterbox);
    } catch (err) {
      throw imageError(err);
    }
    const t1 = performance.now();
    // Timed per model/backend/outcome and traced as a child of the call's span.
    const result = await serviceMetrics().timeInference(spec.name, spec.backend, () =>
      withSpan(`inference ${spec.name}`, { attributes: { 'imageflow.model': spec.name, 'imageflow.backend': spec.backend } }, () => this.backend.infer(input, call)),
    );
    const t2 = performance.now();
    let candidates: Candidate[];
    try {
      candidates =
        spec.decoder === 'centernet'
          ? decodeCenternet(result.output, { width: spec.inputWidth, height: spec.inputHeight }, image, spec.labels.length)
          : decodeYolov8(result.output, result.shape, letterbox, image, spec.labels.length, selection.confidenceThreshold);
    } catch (err) {
      throw new ServiceError(Code.INTERNAL, `model "${spec.name}" returned an output its ${spec.decoder} decoder cannot read: ${(err as Error).message}`);
    }
    const detections = selectDetections(candidates, selection);
    return { detections, preprocessMs: t1 - t0, inferenceMs: t2 - t1, postprocessMs: performance.now() - t2 };
  }
}
