// Reads a tfjs graph model (model.json + weight shards) from the local disk, for both runtimes:
// tfjs's IOHandler (no fetch, no HTTP, no tfjs-node) and the ONNX conversion.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { io } from '@tensorflow/tfjs-core';

interface ModelJson {
  readonly modelTopology: object;
  readonly format?: string;
  readonly generatedBy?: string;
  readonly convertedBy?: string | null;
  readonly signature?: object;
  readonly userDefinedMetadata?: { [key: string]: {} };
  readonly weightsManifest: ReadonlyArray<{ paths: string[]; weights: io.WeightsManifestEntry[] }>;
}

/**
 * A tfjs graph model's files as tensorflowjs_converter writes them: model.json, and every weight
 * shard its manifest names (relative to it), joined in manifest order, the layout of tfjs's
 * weightData. Also read by tfjs-to-onnx.ts.
 */
export function readGraphModelFiles<J extends { readonly weightsManifest: ReadonlyArray<{ readonly paths: readonly string[] }> }>(
  modelFile: string,
): { json: J; weights: Buffer } {
  const json = JSON.parse(readFileSync(modelFile, 'utf8')) as J;
  const base = dirname(modelFile);
  return { json, weights: Buffer.concat(json.weightsManifest.flatMap((group) => group.paths.map((p) => readFileSync(join(base, p))))) };
}

export function graphModelFromDisk(modelFile: string): io.IOHandler {
  return {
    // Read once, at the worker's start-up, before it serves: nothing else waits on this thread.
    load: async (): Promise<io.ModelArtifacts> => {
      const { json, weights } = readGraphModelFiles<ModelJson>(modelFile);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        signature: json.signature,
        userDefinedMetadata: json.userDefinedMetadata,
        weightSpecs: json.weightsManifest.flatMap((group) => group.weights),
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer, // Buffer.concat allocates a plain ArrayBuffer
      };
    },
  };
}
