// Every example pipeline; main.ts adds them all to the app:
//   import { pipelines } from './pipelines/index.js';
//   addPipelines(app, pipelines);   // one chart: dist/pipelines.k8s.yaml
import type { Pipeline } from '../constructs/pipeline/index.js';
import { batchThumbnails } from './batch-thumbnails.js';
import { fromDocument } from './from-document.js';
import { privacyBlur } from './privacy-blur.js';
import { resizeDetectFilter } from './resize-detect-filter.js';
import { thumbnails } from './thumbnails.js';

export { batchThumbnails, fromDocument, privacyBlur, resizeDetectFilter, thumbnails };

export const pipelines: readonly Pipeline[] = [resizeDetectFilter, thumbnails, privacyBlur, batchThumbnails, fromDocument];
