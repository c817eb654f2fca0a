// Decoder for the MobileNetV3-CenterNet COCO model shipped by @vladmandic/human: its
// `tower_0/detections` output is [1, N, 6] rows of x1, y1, x2, y2 (pixels of the 512x512
// stretched input), score, class index (0-based COCO-80). Rows are not suppressed: the model
// emits near-duplicates, so NMS runs afterwards like for every decoder.
import { type Candidate, clipToImage } from './nms.js';

export const CENTERNET_OUTPUT = 'tower_0/detections';
export const CENTERNET_INPUT = 'tower_0/images';

export function decodeCenternet(
  output: Float32Array,
  input: { width: number; height: number },
  image: { width: number; height: number },
  classCount: number,
): Candidate[] {
  if (output.length % 6 !== 0) throw new Error(`centernet output has ${output.length} values, not a multiple of 6`);
  const sx = image.width / input.width;
  const sy = image.height / input.height;
  const out: Candidate[] = [];
  for (let i = 0; i < output.length; i += 6) {
    const score = output[i + 4];
    const classId = output[i + 5];
    // Padding rows carry NaN or out-of-range classes.
    if (!Number.isFinite(score) || !Number.isInteger(classId) || classId < 0 || classId >= classCount) continue;
    const box = clipToImage(
      { classId, score, x1: output[i] * sx, y1: output[i + 1] * sy, x2: output[i + 2] * sx, y2: output[i + 3] * sy },
      image.width,
      image.height,
    );
    if (box) out.push(box);
  }
  return out;
}
