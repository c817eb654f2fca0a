// The seed pipeline: resize a photo, find what is in it, sharpen the result.
import { definePipeline, param } from '../constructs/pipeline/index.js';

export const resizeDetectFilter = definePipeline(
  {
    name: 'resize-detect-filter',
    description: 'Resize an image, detect objects in it, then sharpen it',
    params: {
      image: param.objectKey({ description: 'Object key of the input image', default: 'samples/street.jpg' }),
      width: param.number({ description: 'Target width in pixels', default: 1024 }),
    },
  },
  (p, { image, width }) => {
    const resized = p.resize('resize', { input: image, width, fit: 'inside', withoutEnlargement: true });
    const found = p.detect('detect', { input: resized.image, confidenceThreshold: 0.4 });
    const sharpened = p.filter('sharpen', { input: found.image, ops: [{ type: 'sharpen', intensity: 1.2 }] });
    p.output('result', sharpened);
  },
);
