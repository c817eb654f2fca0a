// Type-level tests: wrong options and wrong wiring do not compile. Checked by `tsc` (and vitest's
// typecheck); every @ts-expect-error must be needed, or tsc fails.
import { describe, expectTypeOf, it } from 'vitest';
import type { FilterOptions, ResizeOptions } from '../../services/shared/http-api.js';
import {
  definePipeline,
  DetectionsRef,
  ImageRef,
  Param,
  param,
  type Condition,
  type DetectStep,
  type ImageStep,
} from '../../constructs/pipeline/index.js';

describe('the DSL types', () => {
  it('hands the body typed parameter handles', () => {
    definePipeline(
      {
        name: 'types',
        params: {
          image: param.objectKey(),
          images: param.objectKeys(),
          width: param.number(),
          model: param.string(),
          boxes: param.boolean(),
          fit: param.enum(['cover', 'contain']),
        },
      },
      (p, params) => {
        expectTypeOf(params.image).toEqualTypeOf<ImageRef>();
        expectTypeOf(params.width).toEqualTypeOf<Param<number>>();
        expectTypeOf(params.model).toEqualTypeOf<Param<string>>();
        expectTypeOf(params.boxes).toEqualTypeOf<Param<boolean>>();
        expectTypeOf(params.fit).toEqualTypeOf<Param<'cover' | 'contain'>>();
        // @ts-expect-error -- no such parameter
        void params.height;
      },
    );
  });

  it('takes option names and types from the gateway schema', () => {
    definePipeline({ name: 'options', params: { image: param.objectKey(), width: param.number(), mode: param.string() } }, (p, { image, width, mode }) => {
      const r = p.resize('ok', { input: image, width, fit: 'cover', output: { format: 'webp', quality: 80 } });
      expectTypeOf(r).toEqualTypeOf<ImageStep>();
      expectTypeOf<Parameters<typeof p.resize>[1]['width']>().toEqualTypeOf<number | Param<number> | undefined>();
      expectTypeOf<ResizeOptions['fit']>().toEqualTypeOf<'contain' | 'cover' | 'fill' | 'inside' | 'outside' | undefined>();

      // @ts-expect-error -- misspelt option
      p.resize('typo', { input: image, widht: 100 });
      // @ts-expect-error -- a string where a number belongs
      p.resize('str', { input: image, width: '100' });
      // @ts-expect-error -- a string parameter where a number belongs
      p.resize('strparam', { input: image, width: mode });
      // @ts-expect-error -- not one of the fit values
      p.resize('fit', { input: image, width: 10, fit: 'stretch' });
      // @ts-expect-error -- a plain string parameter does not fit an enum option
      p.resize('fitparam', { input: image, width: 10, fit: mode });
      // @ts-expect-error -- unknown filter type
      p.filter('ops', { input: image, ops: [{ type: 'sepia' }] });
      // @ts-expect-error -- filter options need ops
      p.filter('noops', { input: image });
      // @ts-expect-error -- output formats come from the gateway too
      p.resize('fmt', { input: image, width: 10, output: { format: 'gif' } });
      // @ts-expect-error -- detect has no width
      p.detect('det', { input: image, width: 10 });
      // @ts-expect-error -- confidenceThreshold is a number
      p.detect('conf', { input: image, confidenceThreshold: 'high' });
      expectTypeOf<FilterOptions['ops'][number]['type']>().toEqualTypeOf<
        'blur' | 'sharpen' | 'brightness' | 'contrast' | 'saturation' | 'grayscale' | 'negate'
      >();
    });
  });

  it('accepts an enum parameter only where its values fit', () => {
    definePipeline(
      { name: 'enums', params: { image: param.objectKey(), fit: param.enum(['cover', 'contain']), bad: param.enum(['cover', 'stretch']) } },
      (p, { image, fit, bad }) => {
        p.resize('ok', { input: image, width: 10, fit });
        // @ts-expect-error -- 'stretch' is not a fit
        p.resize('bad', { input: image, width: 10, fit: bad });
      },
    );
    // @ts-expect-error -- a default outside the enum's values
    param.enum(['a', 'b'], { default: 'c' });
  });

  it('wires data, not anything', () => {
    definePipeline(
      { name: 'wiring', params: { image: param.objectKey(), images: param.objectKeys(), width: param.number() } },
      (p, { image, images, width }) => {
        const det = p.detect('det', { input: image });
        expectTypeOf(det).toEqualTypeOf<DetectStep>();
        expectTypeOf(det.detections).toEqualTypeOf<DetectionsRef>();
        const small = p.resize('small', { input: det.image, width: 10 });
        p.filter('ok', { input: small.image, ops: [{ type: 'negate' }] });

        // @ts-expect-error -- detections are not an image
        p.resize('a', { input: det.detections, width: 10 });
        // @ts-expect-error -- a step handle is not its image (use .image)
        p.resize('b', { input: small, width: 10 });
        // @ts-expect-error -- a number parameter is not an image
        p.resize('c', { input: width, width: 10 });
        // @ts-expect-error -- a list of images is only for forEach
        p.resize('d', { input: images, width: 10 });
        // @ts-expect-error -- an image is not a width
        p.resize('e', { input: image, width: small.image });
        // @ts-expect-error -- forEach goes over a list, not one image
        p.forEach('f', image, (b, img) => b.resize('g', { input: img, width: 10 }));
        // @ts-expect-error -- the forEach body must return the step to gather
        p.forEach('h', images, (b, img) => void b.resize('i', { input: img, width: 10 }));
        // @ts-expect-error -- the input is required
        p.resize('j', { width: 10 });
      },
    );
  });

  it('builds when conditions from typed values', () => {
    definePipeline(
      { name: 'conditions', params: { image: param.objectKey(), n: param.number(), on: param.boolean(), mode: param.enum(['a', 'b']) } },
      (p, { image, n, on, mode }) => {
        const det = p.detect('det', { input: image });
        expectTypeOf(det.detections.any({ labels: ['person'] })).toEqualTypeOf<Condition>();
        p.filter('f', { input: image, ops: [{ type: 'blur' }] }, { when: det.detections.count({ minConfidence: 0.5 }).atLeast(2) });
        p.filter('g', { input: image, ops: [{ type: 'blur' }] }, { when: n.gt(3) });
        p.filter('h', { input: image, ops: [{ type: 'blur' }] }, { when: on.isTrue() });
        p.filter('i', { input: image, ops: [{ type: 'blur' }] }, { when: mode.eq('a') });
        // @ts-expect-error -- not one of the enum's values
        mode.eq('c');
        // @ts-expect-error -- only numbers compare with gt
        mode.gt(3);
        // @ts-expect-error -- isTrue is for booleans
        n.isTrue();
        // @ts-expect-error -- a when takes a condition, not detections
        p.filter('k', { input: image, ops: [{ type: 'blur' }] }, { when: det.detections });
        // @ts-expect-error -- counts compare with numbers
        det.detections.count().atLeast('1');
      },
    );
  });
});
