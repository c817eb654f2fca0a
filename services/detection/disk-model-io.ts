// A tfjs IOHandler that reads a graph model (model.json + weight shards) from the local disk:
// no fetch, no HTTP, no tfjs-node.
import { readFile } from 'node:fs/promises';
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

export function graphModelFromDisk(modelFile: string): io.IOHandler {
  return {
    load: async (): Promise<io.ModelArtifacts> => {
      const json = JSON.parse(await readFile(modelFile, 'utf8')) as ModelJson;
      const base = dirname(modelFile);
      const shards = await Promise.all(json.weightsManifest.flatMap((group) => group.paths.map((p) => readFile(join(base, p)))));
      const weights = Buffer.concat(shards);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        signature: json.signature,
        userDefinedMetadata: json.userDefinedMetadata,
        weightSpecs: json.weightsManifest.flatMap((group) => group.weights),
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      };
    },
  };
}
