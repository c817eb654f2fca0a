import { describe, expect, it } from 'vitest';
import { canonicalJson, deriveOutputKey, paramsHash } from '../../services/shared/keys.js';

describe('deterministic output keys', () => {
  const src = { bucket: 'imageflow', key: 'photos/cat.jpg' };
  it('equal parameters in any key order give the same key', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 2], c: undefined } })).toBe('{"a":{"d":[1,2]},"b":1}');
    expect(deriveOutputKey(src, 'resize', { width: 10, fit: 'cover' }, 'jpg')).toBe(deriveOutputKey(src, 'resize', { fit: 'cover', width: 10 }, 'jpg'));
  });
  it('follows the lineage of the image', () => {
    const first = deriveOutputKey(src, 'resize', { width: 10 }, 'jpg');
    expect(first).toMatch(/^derived\/photos\/cat\/resize-[0-9a-f]{16}\.jpg$/);
    const second = deriveOutputKey({ bucket: 'imageflow', key: first }, 'filter', [{ type: 'blur' }], 'png');
    expect(second).toMatch(/^derived\/photos\/cat\/resize-[0-9a-f]{16}\/filter-[0-9a-f]{16}\.png$/);
  });
  it('differs by input, operation, parameters and bucket', () => {
    const keys = new Set([
      paramsHash(src, 'resize', { width: 10 }),
      paramsHash(src, 'resize', { width: 11 }),
      paramsHash(src, 'filter', { width: 10 }),
      paramsHash({ ...src, bucket: 'other' }, 'resize', { width: 10 }),
      paramsHash({ sha256: 'ab'.repeat(32) }, 'resize', { width: 10 }),
    ]);
    expect(keys.size).toBe(5);
  });
});
