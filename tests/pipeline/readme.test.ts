// The generated YAML in pipelines/README.md matches what the compiler emits today.
import { describe, expect, it } from 'vitest';
import { readmeBlocks } from './readme-blocks.js';

describe('pipelines/README.md', () => {
  const blocks = readmeBlocks();

  it('shows generated YAML', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(6);
  });

  it.each(blocks.map((b) => [b.marker, b] as const))('block %s is current (npx tsx tests/pipeline/readme-blocks.ts)', (_m, block) => {
    expect(block.actual).toBe(block.expected);
  });
});
