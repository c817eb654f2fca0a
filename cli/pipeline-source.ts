// Finds the pipeline a command names: an example by name (pipelines/index.ts), a .ts/.js module
// exporting Pipeline objects, or a JSON pipeline document.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Pipeline, PipelineError } from '../constructs/pipeline/index.js';
import { usageError } from './exit-codes.js';

const isPipeline = (v: unknown): v is Pipeline => v instanceof Pipeline;

export async function examplePipelines(): Promise<readonly Pipeline[]> {
  const { pipelines } = await import('../pipelines/index.js');
  return pipelines;
}

/** Every pipeline a module exports (directly or in an exported array). */
export async function pipelinesOfModule(file: string): Promise<Pipeline[]> {
  const mod = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>;
  const found = new Set<Pipeline>();
  for (const value of Object.values(mod)) {
    if (isPipeline(value)) found.add(value);
    else if (Array.isArray(value)) value.filter(isPipeline).forEach((p) => found.add(p));
  }
  return [...found];
}

export async function loadPipeline(ref: string): Promise<Pipeline> {
  if (/\.json$/i.test(ref)) {
    if (!existsSync(ref)) throw usageError(`${ref}: no such file`);
    try {
      return Pipeline.fromJSON(readFileSync(ref, 'utf8'));
    } catch (err) {
      if (err instanceof PipelineError) throw usageError(`${ref}: ${err.message}`);
      throw err;
    }
  }
  if (/\.(ts|mts|js|mjs)$/i.test(ref)) {
    if (!existsSync(ref)) throw usageError(`${ref}: no such file`);
    let found: Pipeline[];
    try {
      found = await pipelinesOfModule(ref);
    } catch (err) {
      if (err instanceof PipelineError) throw usageError(`${ref}: ${err.message}`);
      throw err;
    }
    if (found.length === 1) return found[0];
    if (!found.length) throw usageError(`${ref} exports no pipeline (export the result of definePipeline or Pipeline.fromJSON)`);
    throw usageError(`${ref} exports several pipelines (${found.map((p) => p.name).join(', ')}); name one of them instead`);
  }
  const all = await examplePipelines();
  const match = all.find((p) => p.name === ref);
  if (match) return match;
  throw usageError(`unknown pipeline "${ref}"; known: ${all.map((p) => p.name).join(', ')} (or give a path to a .ts module or a .json document)`);
}

/** Argument list → pipelines; no argument means every example. */
export async function loadPipelines(refs: readonly string[]): Promise<Pipeline[]> {
  if (!refs.length) return [...(await examplePipelines())];
  const out: Pipeline[] = [];
  for (const ref of refs) {
    if (/\.(ts|mts|js|mjs)$/i.test(ref)) out.push(...(await pipelinesOfModule(ref)));
    else out.push(await loadPipeline(ref));
  }
  return out;
}
