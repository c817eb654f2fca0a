// Decoder for YOLOv8 / YOLO11 detection exports: output0 is [1, 4 + classes, anchors] (8400 for a
// 640x640 input), channel-major: for anchor i, cx, cy, w, h (input pixels) then one score per
// class (already sigmoid-activated, no objectness). Boxes go back through the letterbox.
import { type Letterbox, fromLetterbox } from './letterbox.js';
import { type Candidate, clipToImage } from './nms.js';

export function decodeYolov8(
  output: Float32Array,
  shape: readonly number[],
  letterbox: Letterbox,
  image: { width: number; height: number },
  classCount: number,
  minScore: number,
): Candidate[] {
  if (shape.length !== 3 || shape[0] !== 1 || shape[1] !== 4 + classCount || shape[2] < 1) {
    throw new Error(`YOLOv8 output shape is [${shape.join(',')}], expected [1,${4 + classCount},anchors]`);
  }
  const anchors = shape[2];
  if (output.length !== (4 + classCount) * anchors) {
    throw new Error(`YOLOv8 output has ${output.length} values, shape [${shape.join(',')}] needs ${(4 + classCount) * anchors}`);
  }
  const out: Candidate[] = [];
  for (let i = 0; i < anchors; i++) {
    let classId = -1;
    let score = -Infinity;
    for (let c = 0; c < classCount; c++) {
      const v = output[(4 + c) * anchors + i];
      if (v > score) [score, classId] = [v, c];
    }
    if (!(score >= minScore)) continue;
    const cx = output[i];
    const cy = output[anchors + i];
    const w = output[2 * anchors + i];
    const h = output[3 * anchors + i];
    const [x1, y1] = fromLetterbox(letterbox, cx - w / 2, cy - h / 2, image.width, image.height);
    const [x2, y2] = fromLetterbox(letterbox, cx + w / 2, cy + h / 2, image.width, image.height);
    const box = clipToImage({ classId, score, x1, y1, x2, y2 }, image.width, image.height);
    if (box) out.push(box);
  }
  return out;
}
