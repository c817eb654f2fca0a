// A batch: one branch per input key (fan-out); each branch resizes and converts, fused into one
// gateway call; the branch answers are gathered into one JSON array. A notification is sent at
// the end whatever happened.
import { definePipeline, param } from '../constructs/pipeline/index.js';

export const batchThumbnails = definePipeline(
  {
    name: 'batch-thumbnails',
    description: 'Grayscale thumbnails of many images, at most 4 gateway calls at once',
    params: {
      images: param.objectKeys({ description: 'Object keys of the input images', default: ['samples/a.jpg', 'samples/b.jpg'] }),
      width: param.number({ description: 'Thumbnail width in pixels', default: 256 }),
      notifyUrl: param.string({
        description: 'Webhook told how the run ended',
        default: 'http://imageflow-notifications.image-processing.svc.cluster.local/hooks/imageflow',
      }),
    },
    parallelism: 4,
    semaphore: { configMap: 'imageflow-gateway-limits', key: 'workflow-calls' },
    onExit: { url: { $param: 'notifyUrl' }, body: { pipeline: 'batch-thumbnails' } },
  },
  (p, { images, width }) => {
    const thumbs = p.forEach('per-image', images, (b, image) => {
      const small = b.resize('thumb', { input: image, width });
      return b.filter('gray', { input: small.image, ops: [{ type: 'grayscale' }], output: { format: 'webp' } });
    });
    p.output('thumbnails', thumbs);
  },
);
