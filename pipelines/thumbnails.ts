// Three thumbnail sizes from one input, in parallel: the three steps share no data, so Argo runs
// them side by side, and each is its own task (nothing to fuse).
import { definePipeline, param } from '../constructs/pipeline/index.js';

export const thumbnails = definePipeline(
  {
    name: 'thumbnails',
    description: 'Small, medium and large WebP thumbnails of one image',
    params: {
      image: param.objectKey({ description: 'Object key of the input image', default: 'samples/street.jpg' }),
      fit: param.enum(['cover', 'contain', 'inside'], { description: 'How to fit the box', default: 'cover' }),
    },
  },
  (p, { image, fit }) => {
    for (const [id, size] of [['small', 128], ['medium', 512], ['large', 1024]] as const) {
      const thumb = p.resize(id, { input: image, width: size, height: size, fit, output: { format: 'webp', quality: 80 } });
      p.output(id, thumb);
    }
  },
);
