// Privacy: look for people; only when one is found, blur the whole image. The blur's `when`
// reads the detect step's answer, so it waits for it and is skipped when nobody is there.
import { definePipeline, param } from '../constructs/pipeline/index.js';

export const privacyBlur = definePipeline(
  {
    name: 'privacy-blur',
    description: 'Blur the whole image when it shows at least one person',
    params: {
      image: param.objectKey({ description: 'Object key of the input image', default: 'samples/street.jpg' }),
      confidence: param.number({ description: 'Detector confidence threshold, 0..1', default: 0.5 }),
    },
    retry: { limit: 4, backoff: { duration: '1s', factor: 2, maxDuration: '30s' } },
    ttl: { secondsAfterSuccess: 3600, secondsAfterFailure: 86400 },
    podGC: 'OnPodCompletion',
  },
  (p, { image, confidence }) => {
    const people = p.detect('find-people', { input: image, classes: ['person'], confidenceThreshold: confidence });
    const blurred = p.filter(
      'blur-all',
      { input: image, ops: [{ type: 'blur', intensity: 25 }], output: { format: 'jpeg', quality: 85 } },
      { when: people.detections.any({ labels: ['person'], minConfidence: 0.5 }) },
    );
    p.output('detections', people);
    p.output('blurred', blurred);
  },
);
