// In-process unit tests of the pure parts: NMS, letterbox geometry, the two decoders and
// parameter validation.
import { describe, expect, it } from 'vitest';
import { decodeCenternet } from '../../services/detection/centernet-decoder.js';
import { DEFAULT_CONFIDENCE, DEFAULT_IOU, detectParams } from '../../services/detection/detect-params.js';
import { fromLetterbox, letterboxGeometry } from '../../services/detection/letterbox.js';
import type { ModelSpec } from '../../services/detection/model-registry.js';
import { type Candidate, iou, selectDetections } from '../../services/detection/nms.js';
import { decodeYolov8 } from '../../services/detection/yolov8-decoder.js';
import { detectRequest } from './support.js';

const box = (classId: number, score: number, x1: number, y1: number, x2: number, y2: number): Candidate => ({ classId, score, x1, y1, x2, y2 });
const all = { confidenceThreshold: 0, iouThreshold: 0.5, maxDetections: 100 };

describe('selectDetections', () => {
  it('suppresses overlapping boxes of the same class only, best first', () => {
    const kept = selectDetections(
      [box(0, 0.8, 0, 0, 100, 100), box(0, 0.9, 5, 5, 105, 105), box(1, 0.7, 0, 0, 100, 100), box(0, 0.6, 300, 300, 400, 400)],
      all,
    );
    expect(kept.map((k) => [k.classId, k.score])).toEqual([
      [0, 0.9],
      [1, 0.7],
      [0, 0.6],
    ]);
  });

  it('applies the confidence threshold, the class filter and max detections', () => {
    const c = [box(0, 0.9, 0, 0, 10, 10), box(1, 0.5, 20, 20, 30, 30), box(2, 0.2, 40, 40, 50, 50)];
    expect(selectDetections(c, { ...all, confidenceThreshold: 0.3 })).toHaveLength(2);
    expect(selectDetections(c, { ...all, classIds: new Set([1]) }).map((k) => k.classId)).toEqual([1]);
    expect(selectDetections(c, { ...all, maxDetections: 1 }).map((k) => k.score)).toEqual([0.9]);
  });

  it('keeps overlapping boxes when their IoU is under the threshold', () => {
    const a = box(0, 0.9, 0, 0, 100, 100);
    const b = box(0, 0.8, 50, 0, 150, 100); // IoU 1/3
    expect(iou(a, b)).toBeCloseTo(1 / 3);
    expect(selectDetections([a, b], { ...all, iouThreshold: 0.3 })).toHaveLength(1);
    expect(selectDetections([a, b], { ...all, iouThreshold: 0.4 })).toHaveLength(2);
  });
});

describe('letterbox', () => {
  it('centres a wide image and maps points back to original pixels', () => {
    const lb = letterboxGeometry(800, 400, 640, 640);
    expect(lb).toMatchObject({ scale: 0.8, width: 640, height: 320, padLeft: 0, padTop: 160 });
    expect(fromLetterbox(lb, 80, 200, 800, 400)).toEqual([100, 50]);
  });

  it('centres a tall image', () => {
    const lb = letterboxGeometry(300, 600, 640, 640);
    expect(lb).toMatchObject({ width: 320, height: 640, padLeft: 160, padTop: 0 });
    expect(fromLetterbox(lb, 160, 0, 300, 600)).toEqual([0, 0]);
    expect(fromLetterbox(lb, 480, 640, 300, 600)).toEqual([300, 600]);
  });
});

describe('decodeYolov8', () => {
  const classes = 80;
  const anchors = 3;
  function output(rows: Array<{ cx: number; cy: number; w: number; h: number; cls: number; score: number }>): Float32Array {
    const out = new Float32Array((4 + classes) * anchors);
    rows.forEach((r, i) => {
      [r.cx, r.cy, r.w, r.h].forEach((v, c) => (out[c * anchors + i] = v));
      out[(4 + r.cls) * anchors + i] = r.score;
    });
    return out;
  }

  it('takes the best class per anchor and maps boxes through the letterbox', () => {
    const lb = letterboxGeometry(800, 400, 640, 640);
    const out = output([
      { cx: 160, cy: 280, w: 160, h: 160, cls: 0, score: 0.9 },
      { cx: 320, cy: 320, w: 10, h: 10, cls: 5, score: 0.1 },
    ]);
    const c = decodeYolov8(out, [1, 84, anchors], lb, { width: 800, height: 400 }, classes, 0.25);
    expect(c).toHaveLength(1);
    expect(c[0].classId).toBe(0);
    expect(c[0].score).toBeCloseTo(0.9);
    expect([c[0].x1, c[0].y1, c[0].x2, c[0].y2]).toEqual([100, 50, 300, 250]);
  });

  it('clips boxes to the image and refuses a wrong shape', () => {
    const lb = letterboxGeometry(640, 640, 640, 640);
    const c = decodeYolov8(output([{ cx: 0, cy: 0, w: 100, h: 100, cls: 1, score: 0.5 }]), [1, 84, anchors], lb, { width: 640, height: 640 }, classes, 0.25);
    expect([c[0].x1, c[0].y1, c[0].x2, c[0].y2]).toEqual([0, 0, 50, 50]);
    expect(() => decodeYolov8(new Float32Array(85 * 3), [1, 85, 3], lb, { width: 640, height: 640 }, classes, 0.25)).toThrow(/expected \[1,84,anchors\]/);
  });
});

describe('decodeCenternet', () => {
  it('scales rows from the stretched input to the image and skips padding rows', () => {
    const rows = new Float32Array([256, 128, 512, 384, 0.8, 0, 0, 0, 0, 0, 0, NaN, 10, 10, 20, 20, 0.5, 99]);
    const c = decodeCenternet(rows, { width: 512, height: 512 }, { width: 1024, height: 256 }, 80);
    expect(c).toEqual([{ classId: 0, score: expect.closeTo(0.8, 5), x1: 512, y1: 64, x2: 1024, y2: 192 }]);
  });
});

describe('detectParams', () => {
  const model = { name: 'm', version: '1', labels: ['person', 'cup'] } as unknown as ModelSpec;
  const req = (extra: object) => detectRequest(undefined, extra);

  it('fills in defaults and normalises classes', () => {
    expect(detectParams(req({ classes: ['cup', 'person', 'cup'] }), model)).toEqual({
      model: 'm',
      modelVersion: '1',
      confidenceThreshold: DEFAULT_CONFIDENCE,
      iouThreshold: DEFAULT_IOU,
      maxDetections: 100,
      classes: ['cup', 'person'],
    });
  });

  it.each([
    [{ confidenceThreshold: 1.5 }, /confidence_threshold must be from 0 to 1/],
    [{ confidenceThreshold: -0.1 }, /confidence_threshold/],
    [{ iouThreshold: 2 }, /iou_threshold must be from 0 to 1/],
    [{ maxDetections: 0 }, /max_detections must be an integer from 1 to 1000/],
    [{ maxDetections: 1001 }, /max_detections/],
    [{ classes: ['unicorn'] }, /"unicorn" unknown to model "m"; valid classes: person, cup/],
  ])('refuses %o', (extra, message) => {
    expect(() => detectParams(req(extra), model)).toThrow(message);
  });
});
