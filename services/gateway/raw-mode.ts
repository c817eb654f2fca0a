// Raw mode: the image is the request body (Content-Type: image/*), the parameters are in the
// query string with the JSON names (?width=512&fit=cover, ?ops=blur:3,grayscale), and the answer
// is the image bytes. Query strings are validated by Fastify with the schemas below, then turned
// into the JSON options and validated again with the contract's own schemas.
import { z } from 'zod';
import {
  DetectOptions,
  FilterOptions,
  Fit,
  OutputFormat,
  OutputOptions,
  ResizeOptions,
  type FilterOp,
} from '../shared/http-api.js';
import { badRequest } from './errors.js';

/** Accepts image/jpeg, image/png, image/webp, ... (any image/* media type). */
export const IMAGE_CONTENT_TYPE = /^image\/[\w.+-]+$/i;

const int = z.coerce.number<string>().pipe(z.int());
const num = z.coerce.number<string>().pipe(z.number().finite());
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const outputQuery = {
  format: OutputFormat.optional().describe('Raw mode: encoding of the answer. Default: keep'),
  quality: int.optional().describe('Raw mode: encoder quality 1..100'),
};

export const RawResizeQuery = z.strictObject({
  width: int.optional().describe('Raw mode (Content-Type: image/*): target width'),
  height: int.optional().describe('Raw mode: target height'),
  fit: Fit.optional().describe('Raw mode: default inside'),
  withoutEnlargement: bool.optional().describe('Raw mode: true or false'),
  background: z.string().optional().describe('Raw mode: #rrggbb or #rrggbbaa'),
  ...outputQuery,
});
export const RawFilterQuery = z.strictObject({
  ops: z.string().optional().describe('Raw mode (Content-Type: image/*): operations in order, e.g. blur:3,grayscale,brightness:1.2'),
  ...outputQuery,
});
export const RawDetectQuery = z.strictObject({
  model: z.string().optional().describe('Raw mode (Content-Type: image/*): model name'),
  confidenceThreshold: num.optional(),
  iouThreshold: num.optional(),
  maxDetections: int.optional(),
  classes: z.string().optional().describe('Raw mode: comma-separated labels, e.g. person,dog'),
  drawBoxes: bool.optional().describe('Raw mode: true answers the annotated image instead of JSON'),
  ...outputQuery,
});

const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${what}${i.path.length ? `.${i.path.join('.')}` : ''}: ${i.message}`);
  throw badRequest(issues.join('; '));
}

function rawOutput(q: { format?: OutputFormat; quality?: number }): OutputOptions | undefined {
  const o = defined({ format: q.format, quality: q.quality });
  return Object.keys(o).length ? parse(OutputOptions, o, 'query') : undefined;
}

export function rawResize(q: z.output<typeof RawResizeQuery>) {
  const { format, quality, ...rest } = q;
  return { options: parse(ResizeOptions, defined(rest), 'query'), output: rawOutput({ format, quality }) };
}

/** "blur:3,grayscale,brightness:1.2" → [{type: 'blur', intensity: 3}, {type: 'grayscale'}, ...]. */
export function parseOps(text: string): unknown[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const [type, intensity, ...extra] = item.split(':');
      if (extra.length) throw badRequest(`query.ops: "${item}" must be type or type:intensity`);
      if (intensity === undefined) return { type };
      const value = Number(intensity);
      if (intensity.trim() === '' || !Number.isFinite(value)) throw badRequest(`query.ops: intensity of "${item}" must be a number`);
      return { type, intensity: value };
    });
}

export function rawFilter(q: z.output<typeof RawFilterQuery>): { ops: FilterOp[]; output?: OutputOptions } {
  if (!q.ops) throw badRequest('query.ops is required, e.g. ?ops=blur:3,grayscale');
  const { ops } = parse(FilterOptions, { ops: parseOps(q.ops) }, 'query');
  return { ops, output: rawOutput(q) };
}

export function rawDetect(q: z.output<typeof RawDetectQuery>) {
  const { format, quality, classes, ...rest } = q;
  const options = parse(
    DetectOptions,
    defined({ ...rest, classes: classes?.split(',').map((c) => c.trim()).filter(Boolean) }),
    'query',
  );
  return { options, output: rawOutput({ format, quality }) };
}

/** JSON mode takes its parameters from the body only. */
export function requireEmptyQuery(query: unknown): void {
  const keys = Object.keys((query ?? {}) as object);
  if (keys.length) {
    throw badRequest(`query parameters (${keys.join(', ')}) apply to raw mode only (Content-Type: image/*); put them in the JSON body`);
  }
}

/** A Server-Timing header value from a timings record. */
export const serverTiming = (t: Record<string, number>) =>
  Object.entries(t)
    .map(([k, v]) => `${k.replace(/Ms$/, '')};dur=${v}`)
    .join(', ');
