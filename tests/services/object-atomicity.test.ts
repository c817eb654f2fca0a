// An object is visible only once it is complete, on both S3 servers the stack runs on (the
// embedded s3rver through services/local-stack/atomic-object-store.ts): a reader of a key that is
// being rewritten gets one whole version with that version's etag, a read after a write gets that
// write, and an upload cut off half way leaves the previous version and nothing else behind.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedS3, type EmbeddedS3 } from '../../services/local-stack/embedded-s3.js';
import { Code } from '../../services/shared/errors.js';
import { Storage } from '../../services/shared/storage.js';
import { MINIO_BIN, startTestS3, type S3Kind, type TestS3 } from '../support/s3.js';

const BUCKET = 'imageflow';
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
// Different sizes, so a read mixing two versions cannot pass for either.
const versions = [randomBytes(1_500_000), randomBytes(700_000), randomBytes(2_100_000)];
const write = (storage: Storage, key: string, data: Buffer) => storage.write({ bucket: BUCKET, key }, data, 'application/octet-stream');
const read = (storage: Storage, key: string) => storage.read({ bucket: BUCKET, key }, 10_000_000);
const kinds: S3Kind[] = existsSync(MINIO_BIN) ? ['embedded', 'minio'] : ['embedded'];

describe.each(kinds)('objects on %s', (kind) => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startTestS3([BUCKET], kind);
  });
  afterAll(() => s3?.stop());

  it('readers of a key that four writers rewrite get one whole version, named by its own etag', async () => {
    const key = 'atomic/rewritten.bin';
    await write(s3.storage, key, versions[0]);
    const reads: Array<{ data: Buffer; etag: string }> = [];
    for (let round = 0; round < 12; round++) {
      await Promise.all([
        ...[0, 1, 2, 3].map((i) => write(s3.storage, key, versions[(round + i) % versions.length])),
        ...[0, 1, 2, 3].map(() => read(s3.storage, key).then((r) => reads.push(r))),
      ]);
    }
    expect(reads).toHaveLength(48);
    for (const r of reads) {
      const version = versions.findIndex((v) => v.equals(r.data));
      expect(version, `a read of ${r.data.length} bytes matches no written version`).toBeGreaterThanOrEqual(0);
      expect(r.etag).toBe(md5(r.data));
    }
    expect(await s3.storage.list(BUCKET, 'atomic/')).toEqual([key]);
  });

  it('a read over its limit is refused with the size the GET declared, and a missing bucket is named', async () => {
    await write(s3.storage, 'atomic/large.bin', versions[0]);
    await expect(s3.storage.read({ bucket: BUCKET, key: 'atomic/large.bin' }, 1_000_000)).rejects.toMatchObject({
      code: Code.RESOURCE_EXHAUSTED,
      message: expect.stringContaining(`is ${versions[0].length} bytes, over the limit of 1000000`),
    });
    await expect(s3.storage.read({ bucket: 'no-such-bucket', key: 'a.bin' }, 1_000_000)).rejects.toMatchObject({
      code: Code.NOT_FOUND,
      message: expect.stringContaining('bucket "no-such-bucket" does not exist'),
    });
  });

  it('a read right after a write returns that write', async () => {
    for (let i = 0; i < 10; i++) {
      const key = `atomic/sequential-${i % 3}.bin`;
      const data = versions[i % versions.length];
      const { etag } = await write(s3.storage, key, data);
      const got = await read(s3.storage, key);
      expect(got.data.equals(data)).toBe(true);
      expect(got.etag).toBe(etag);
    }
  });
});

// s3rver checks no signatures, so a bare HTTP PUT can be cut off half way.
describe('the embedded S3 server, an upload cut off half way', () => {
  let s3: EmbeddedS3;
  let storage: Storage;
  beforeAll(async () => {
    s3 = await startEmbeddedS3();
    storage = new Storage({ endpoint: s3.endpoint, accessKey: s3.accessKey, secretKey: s3.secretKey, timeoutMs: 5_000 });
    await storage.ensureBucket(BUCKET);
  });
  afterAll(() => s3?.stop());

  it('keeps the previous version and leaves no partial files', async () => {
    const key = 'atomic/interrupted.bin';
    await write(storage, key, versions[1]);
    await new Promise<void>((resolve) => {
      const req = request(`${s3.endpoint}/${BUCKET}/${key}`, { method: 'PUT', headers: { 'content-length': String(versions[2].length) } });
      req.on('error', () => undefined); // the cut itself
      req.on('close', () => resolve());
      req.write(versions[2].subarray(0, 600_000), () => setTimeout(() => req.destroy(), 100));
    });
    const got = await read(storage, key);
    expect(got.data.equals(versions[1])).toBe(true);
    expect(got.etag).toBe(md5(versions[1]));
    // The server removes the staged bytes once it sees its socket close.
    const partial = () => readdirSync(join(s3.directory, BUCKET, 'atomic')).filter((f) => f.includes('.partial-'));
    for (let waited = 0; partial().length && waited < 5_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    expect(partial()).toEqual([]);
    expect(await storage.list(BUCKET, 'atomic/')).toEqual([key]);
  });
});
