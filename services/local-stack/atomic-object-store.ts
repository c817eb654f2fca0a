// s3rver keeps an object as three files (its bytes, their MD5, its metadata) and writes them in
// place: a GET of a key while that key is being PUT reads a torn object (all 200 reads of a probe
// with four writers of one key), and a PUT can answer before its bytes have reached the file.
// Real S3 and MinIO make an object visible only once it is complete, and imageflow relies on it:
// concurrent or retried steps with the same input and parameters write the same deterministic
// key while other steps read it (the benchmark's three-call chain at concurrency 4 got
// "premature end of JPEG image" and "image is empty (0 bytes)" from the embedded server).
//
// This changes one s3rver store in place so that a PUT writes the three files under temporary
// names and renames them over the object's once the bytes are on disk, and each key's PUT, GET
// (HEAD too) and DELETE take turns until the GET has opened the file: a reader holds one whole
// version, since a rename never changes a file that is already open.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

interface StoredObject {
  readonly bucket: string;
  readonly key: string;
  readonly content: Buffer | Readable;
  readonly metadata: Record<string, string>;
}

/** What this relies on of s3rver's FilesystemStore (s3rver 3.7, lib/stores/filesystem.js). */
export interface S3rverStore {
  getResourcePath(bucket: string, key: string, resource: 'object' | 'object.md5' | 'metadata.json'): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
  putObject(object: StoredObject): Promise<{ size: number; md5: string }>;
  getObject(bucket: string, key: string, options?: unknown): Promise<unknown>;
  deleteObject(bucket: string, key: string): Promise<void>;
}

/** Runs the calls given for one key one after another, each after the previous one settled. */
class KeyTurns {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, call: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(call);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}

/** Streams `content` into a new file at `path`, resolving once every byte is written. */
async function writeWithMd5(path: string, content: Buffer | Readable): Promise<{ size: number; md5: string }> {
  const md5 = createHash('md5');
  let size = 0;
  const count = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      md5.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(Buffer.isBuffer(content) ? Readable.from([content]) : content, count, createWriteStream(path, { flags: 'wx' }));
  return { size, md5: md5.digest('hex') };
}

export function makeObjectWritesAtomic(store: S3rverStore): void {
  const turns = new KeyTurns();
  const getObject = store.getObject.bind(store);
  const deleteObject = store.deleteObject.bind(store);
  let staged = 0;

  store.putObject = async (object) => {
    const { bucket, key } = object;
    const objectPath = store.getResourcePath(bucket, key, 'object');
    await mkdir(dirname(objectPath), { recursive: true });
    // A sibling key for the checksum and metadata, so s3rver's own putMetadata formats them; its
    // files end in ".md5" and ".json", which s3rver never lists as objects, nor this one's bytes.
    const stagingKey = `${key}.partial-${process.pid}-${++staged}`;
    const paths = {
      bytes: [`${objectPath}.partial-${process.pid}-${staged}`, objectPath],
      md5: [store.getResourcePath(bucket, stagingKey, 'object.md5'), store.getResourcePath(bucket, key, 'object.md5')],
      metadata: [store.getResourcePath(bucket, stagingKey, 'metadata.json'), store.getResourcePath(bucket, key, 'metadata.json')],
    };
    try {
      const written = await writeWithMd5(paths.bytes[0], object.content);
      await store.putMetadata(bucket, stagingKey, object.metadata, written.md5);
      await turns.run(`${bucket}/${key}`, async () => {
        for (const [from, to] of Object.values(paths)) await rename(from, to);
      });
      return written;
    } catch (err) {
      await Promise.all(Object.values(paths).map(([from]) => rm(from, { force: true })));
      throw err;
    }
  };
  // s3rver's getObject resolves once the file is open, after reading its size and checksum.
  store.getObject = (bucket, key, options) => turns.run(`${bucket}/${key}`, () => getObject(bucket, key, options));
  store.deleteObject = (bucket, key) => turns.run(`${bucket}/${key}`, () => deleteObject(bucket, key));
}
