// The exported JSON Schema of pipeline documents is also committed as a file for tools outside
// TypeScript; it must match the zod schema. Refresh: UPDATE_SCHEMA=1 npx vitest run tests/pipeline/json-schema.test.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pipelineDocumentJsonSchema } from '../../constructs/pipeline/index.js';

const FILE = new URL('../../constructs/pipeline/pipeline-document.schema.json', import.meta.url);

describe('constructs/pipeline/pipeline-document.schema.json', () => {
  it('is the current JSON Schema of pipeline documents', () => {
    const current = `${JSON.stringify(pipelineDocumentJsonSchema(), null, 2)}\n`;
    if (process.env.UPDATE_SCHEMA) writeFileSync(FILE, current);
    expect(readFileSync(FILE, 'utf8')).toBe(current);
  });
});
