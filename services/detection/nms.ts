// Turning raw candidates into the detections a caller asked for: confidence threshold, class
// filter, class-wise non-maximum suppression, then the best max_detections.

/** A box in pixels of the original, upright image: (x1, y1) top-left, (x2, y2) bottom-right. */
export interface Candidate {
  readonly classId: number;
  readonly score: number;
  readonly x1: number;
  readonly y1: number;
  readonly x2: number;
  readonly y2: number;
}

export interface Selection {
  readonly confidenceThreshold: number;
  readonly iouThreshold: number;
  readonly maxDetections: number;
  /** Keep only these classes; undefined keeps all. */
  readonly classIds?: ReadonlySet<number>;
}

export function iou(a: Candidate, b: Candidate): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Greedy NMS within each class (a person box never suppresses the bicycle under it), highest
 * score first; the result is sorted by score and cut at maxDetections.
 */
export function selectDetections(candidates: readonly Candidate[], s: Selection): Candidate[] {
  const sorted = candidates
    .filter((c) => c.score >= s.confidenceThreshold && (!s.classIds || s.classIds.has(c.classId)))
    .sort((a, b) => b.score - a.score);
  const kept: Candidate[] = [];
  for (const c of sorted) {
    if (kept.length >= s.maxDetections) break;
    if (kept.some((k) => k.classId === c.classId && iou(k, c) > s.iouThreshold)) continue;
    kept.push(c);
  }
  return kept;
}

/** Clamps a box to the image; undefined when nothing of it is left. */
export function clipToImage(c: Candidate, width: number, height: number): Candidate | undefined {
  const x1 = Math.max(0, Math.min(width, c.x1));
  const y1 = Math.max(0, Math.min(height, c.y1));
  const x2 = Math.max(0, Math.min(width, c.x2));
  const y2 = Math.max(0, Math.min(height, c.y2));
  if (!(x2 > x1 && y2 > y1)) return undefined;
  return { classId: c.classId, score: c.score, x1, y1, x2, y2 };
}
