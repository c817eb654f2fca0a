// The model registry: the shipped file, a replacement file, and the environment overrides.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseEnv } from '../../services/shared/config.js';
import { DetectionEnv } from '../../services/detection/env.js';
import { loadModelRegistry } from '../../services/detection/model-registry.js';

const registry = (env: Record<string, string> = {}) => loadModelRegistry(parseEnv(DetectionEnv, env));

function registryFile(content: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'imageflow-registry-')), 'models.json');
  writeFileSync(file, JSON.stringify(content));
  return file;
}

describe('model registry', () => {
  it('ships the embedded CenterNet model as the default', () => {
    const r = registry();
    expect(r.defaultName).toBe('centernet');
    const spec = r.resolve('');
    expect(spec).toMatchObject({ name: 'centernet', backend: 'embedded', decoder: 'centernet', inputWidth: 512, inputHeight: 512 });
    expect(spec.labels).toHaveLength(80);
    expect(spec.backend === 'embedded' && spec.modelFile).toMatch(/node_modules\/@vladmandic\/human\/models\/centernet\.json$/);
  });

  it('TRITON_GRPC_URL adds the Triton YOLOv8 model and makes it the default', () => {
    const r = registry({ TRITON_GRPC_URL: 'triton:8001', TRITON_MODEL_NAME: 'yolo11s', TRITON_MODEL_VERSION: '3' });
    expect(r.models.map((m) => m.name)).toEqual(['centernet', 'yolov8']);
    expect(r.resolve('')).toMatchObject({ name: 'yolov8', backend: 'triton', url: 'triton:8001', tritonModel: 'yolo11s', tritonVersion: '3', inputWidth: 640, inputName: 'images', outputName: 'output0' });
    expect(registry({ TRITON_GRPC_URL: 'triton:8001', DETECTION_DEFAULT_MODEL: 'centernet' }).defaultName).toBe('centernet');
  });

  it('MODEL_REGISTRY_FILE replaces the file; TRITON_GRPC_URL fills in its Triton url', () => {
    const file = registryFile({
      models: [{ name: 'det', backend: 'triton', decoder: 'yolov8', inputWidth: 640, inputHeight: 640, labels: ['a', 'b'], tritonModel: 'det' }],
    });
    const r = registry({ MODEL_REGISTRY_FILE: file, TRITON_GRPC_URL: 'localhost:8001' });
    expect(r.resolve('det')).toMatchObject({ url: 'localhost:8001', labels: ['a', 'b'] });
    expect(() => registry({ MODEL_REGISTRY_FILE: file })).toThrow(/model "det" uses Triton but has no url: set TRITON_GRPC_URL/);
  });

  it('resolves "coco" labels and node_modules/ paths wherever the registry file lives', () => {
    const file = registryFile({
      models: [{ name: 'cn', backend: 'embedded', decoder: 'centernet', inputWidth: 512, inputHeight: 512, labels: 'coco', modelFile: 'node_modules/@vladmandic/human/models/centernet.json' }],
    });
    const spec = registry({ MODEL_REGISTRY_FILE: file }).resolve('cn');
    expect(spec.labels[0]).toBe('person');
    expect(spec.backend === 'embedded' && spec.modelFile).toBe(registry().resolve('centernet').backend === 'embedded' && (registry().resolve('centernet') as { modelFile: string }).modelFile);
  });

  it('refuses a TRITON_GRPC_URL that is not host:port', () => {
    expect(() => registry({ TRITON_GRPC_URL: 'http://triton:8001' })).toThrow(/TRITON_GRPC_URL="http:\/\/triton:8001": expected host:port/);
    expect(registry({ TRITON_GRPC_URL: '' }).defaultName).toBe('centernet');
  });

  it('answers NOT_FOUND with the known names for an unknown model', () => {
    expect(() => registry().resolve('yolo')).toThrow(/model "yolo" is unknown; known models: centernet/);
  });

  it('refuses a bad file with a message naming MODEL_REGISTRY_FILE', () => {
    const file = registryFile({ models: [{ name: 'x', backend: 'embedded', decoder: 'yolov8' }] });
    expect(() => registry({ MODEL_REGISTRY_FILE: file })).toThrow(ConfigError);
    expect(() => registry({ MODEL_REGISTRY_FILE: file })).toThrow(/MODEL_REGISTRY_FILE=.*models\.0\./);
    expect(() => registry({ DETECTION_DEFAULT_MODEL: 'nope' })).toThrow(/default model "nope" is not one of centernet/);
  });
});
