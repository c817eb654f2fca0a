// The JSON sidecar written next to a stored annotated image (key = annotated key + ".json"), so
// a pipeline step can read the detections without the gRPC response, and a reused annotated
// image comes back with the detections it was drawn with.
import type { Detection } from '../shared/gen/imageflow/v1/ai_detection.js';
import type { ObjectLocation, Storage } from '../shared/storage.js';
import type { DetectParams } from './detect-params.js';

export interface SidecarDocument {
  readonly model: string;
  readonly modelVersion: string;
  readonly image: { readonly width: number; readonly height: number };
  /** The input: an object reference, or the SHA-256 of inline bytes. */
  readonly source: { readonly bucket: string; readonly key: string } | { readonly sha256: string };
  readonly annotated: ObjectLocation;
  readonly parameters: DetectParams;
  readonly detections: ReadonlyArray<{
    readonly classId: number;
    readonly label: string;
    readonly confidence: number;
    readonly box: { readonly x: number; readonly y: number; readonly width: number; readonly height: number };
  }>;
}

export const sidecarLocation = (annotated: ObjectLocation): ObjectLocation => ({ bucket: annotated.bucket, key: `${annotated.key}.json` });

export function sidecarDetections(detections: readonly Detection[]): SidecarDocument['detections'] {
  return detections.map((d) => ({ classId: d.classId, label: d.label, confidence: d.confidence, box: d.box ?? { x: 0, y: 0, width: 0, height: 0 } }));
}

export async function writeSidecar(storage: Storage, doc: SidecarDocument): Promise<ObjectLocation> {
  const loc = sidecarLocation(doc.annotated);
  await storage.write(loc, Buffer.from(`${JSON.stringify(doc, null, 2)}\n`), 'application/json');
  return loc;
}

/** The sidecar of a reused annotated image, or undefined when it is missing or unreadable. */
export async function readSidecar(storage: Storage, annotated: ObjectLocation): Promise<SidecarDocument | undefined> {
  try {
    const { data } = await storage.read(sidecarLocation(annotated), 16 * 1024 * 1024);
    const doc = JSON.parse(data.toString('utf8')) as SidecarDocument;
    return Array.isArray(doc.detections) ? doc : undefined;
  } catch {
    return undefined;
  }
}
