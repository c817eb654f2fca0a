// The model registry: which models this service knows, with their backend, input size, output
// decoder and labels. A JSON file (MODEL_REGISTRY_FILE, default models.json beside this module)
// plus environment overrides, so a cluster can point at Triton without shipping a new file.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigError } from '../shared/config.js';
import { notFound } from '../shared/errors.js';
import type { DetectionEnv } from './env.js';

/** Where the service is installed: `node_modules/...` paths resolve here, wherever the registry file lives. */
const INSTALL_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The COCO-80 names shipped with the service, for `"labels": "coco"`. */
const COCO_LABELS_FILE = fileURLToPath(new URL('./coco-labels.json', import.meta.url));

/** Relative to the registry file, except `node_modules/...` (relative to the install root). */
function resolvePath(base: string, path: string): string {
  return path.startsWith('node_modules/') ? resolve(INSTALL_ROOT, path) : resolve(base, path);
}

const Labels = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
const Common = {
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits, ".", "_" and "-"'),
  version: z.string().default(''),
  inputWidth: z.number().int().min(32).max(4096),
  inputHeight: z.number().int().min(32).max(4096),
  /** "coco" (the shipped COCO-80 names), a JSON file with an array of names, or the names inline. */
  labels: Labels,
};
const EmbeddedEntry = z.object({
  ...Common,
  backend: z.literal('embedded'),
  decoder: z.literal('centernet'),
  /** A tfjs graph model (model.json with its weight files beside it). */
  modelFile: z.string().min(1),
});
const TritonEntry = z.object({
  ...Common,
  backend: z.literal('triton'),
  decoder: z.literal('yolov8'),
  /** host:port; TRITON_GRPC_URL replaces it. */
  url: z.string().default(''),
  tritonModel: z.string().min(1),
  tritonVersion: z.string().default(''),
  inputName: z.string().default('images'),
  outputName: z.string().default('output0'),
});
const RegistryFile = z.object({
  default: z.string().optional(),
  models: z.array(z.discriminatedUnion('backend', [EmbeddedEntry, TritonEntry])),
});

type Resolved<T> = Omit<T, 'labels'> & { readonly labels: readonly string[] };
export type EmbeddedModelSpec = Resolved<z.infer<typeof EmbeddedEntry>>;
export type TritonModelSpec = Resolved<z.infer<typeof TritonEntry>>;
export type ModelSpec = EmbeddedModelSpec | TritonModelSpec;

/** The model TRITON_GRPC_URL adds when the registry names no Triton model. */
export const TRITON_DEFAULT_MODEL_NAME = 'yolov8';

export class ModelRegistry {
  private readonly byName: ReadonlyMap<string, ModelSpec>;

  constructor(
    readonly models: readonly ModelSpec[],
    readonly defaultName: string,
  ) {
    this.byName = new Map(models.map((m) => [m.name, m]));
    if (this.byName.size !== models.length) throw new ConfigError('model registry: model names must be unique');
    if (!this.byName.has(defaultName)) {
      throw new ConfigError(`model registry: the default model "${defaultName}" is not one of ${this.names()}`);
    }
  }

  /** The named model, or the default for an empty name; NOT_FOUND lists the known ones. */
  resolve(name: string): ModelSpec {
    const spec = this.byName.get(name || this.defaultName);
    if (!spec) throw notFound(`model "${name}" is unknown; known models: ${this.names()}`);
    return spec;
  }

  private names(): string {
    return [...this.byName.keys()].join(', ');
  }
}

export function loadModelRegistry(env: DetectionEnv): ModelRegistry {
  const file = env.MODEL_REGISTRY_FILE;
  let parsed: z.infer<typeof RegistryFile>;
  try {
    parsed = RegistryFile.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch (err) {
    const detail = err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : (err as Error).message;
    throw new ConfigError(`invalid configuration:\n  MODEL_REGISTRY_FILE=${JSON.stringify(file)}: ${detail}`);
  }
  const base = dirname(file);
  const models: ModelSpec[] = parsed.models.map((entry) => {
    const labels =
      typeof entry.labels !== 'string' ? entry.labels : readLabels(entry.labels === 'coco' ? COCO_LABELS_FILE : resolvePath(base, entry.labels));
    return entry.backend === 'embedded'
      ? { ...entry, labels, modelFile: resolvePath(base, entry.modelFile) }
      : { ...entry, labels, url: env.TRITON_GRPC_URL ?? entry.url };
  });
  let defaultName = parsed.default ?? models[0]?.name ?? '';
  if (env.TRITON_GRPC_URL) {
    let triton = models.find((m) => m.backend === 'triton');
    if (!triton) {
      const coco = readLabels(COCO_LABELS_FILE);
      triton = {
        name: TRITON_DEFAULT_MODEL_NAME,
        backend: 'triton',
        decoder: 'yolov8',
        version: env.TRITON_MODEL_VERSION,
        inputWidth: 640,
        inputHeight: 640,
        labels: coco,
        url: env.TRITON_GRPC_URL,
        tritonModel: env.TRITON_MODEL_NAME,
        tritonVersion: env.TRITON_MODEL_VERSION,
        inputName: 'images',
        outputName: 'output0',
      };
      models.push(triton);
    }
    defaultName = triton.name;
  }
  for (const m of models) {
    if (m.backend === 'triton' && !m.url) {
      throw new ConfigError(`invalid configuration:\n  model "${m.name}" uses Triton but has no url: set TRITON_GRPC_URL`);
    }
  }
  return new ModelRegistry(models, env.DETECTION_DEFAULT_MODEL ?? defaultName);
}

function readLabels(file: string): string[] {
  const labels = z.array(z.string().min(1)).min(1).safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!labels.success) throw new ConfigError(`labels file ${file} must be a JSON array of names`);
  return labels.data;
}
