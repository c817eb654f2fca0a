// A pipeline that was not written in code: read from a JSON document, as a backend or UI would
// submit it (schema: Pipeline's exported JSON Schema).
import { readFileSync } from 'node:fs';
import { Pipeline } from '../constructs/pipeline/index.js';

export const fromDocument = Pipeline.fromJSON(readFileSync(new URL('./from-document.json', import.meta.url), 'utf8'));
