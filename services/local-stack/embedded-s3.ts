// An S3-compatible server inside this process (s3rver), for `npm run dev` and machines without
// MinIO. It keeps objects in a directory and accepts the fixed credentials below. Its writes are
// made atomic per object (atomic-object-store.ts), as MinIO's and S3's are.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
// s3rver ships no types.
// @ts-expect-error -- untyped CommonJS module
import S3rver from 's3rver';
import { makeObjectWritesAtomic, type S3rverStore } from './atomic-object-store.js';

export const EMBEDDED_S3_CREDENTIALS = { accessKey: 'S3RVER', secretKey: 'S3RVER' } as const;

export interface EmbeddedS3 {
  readonly endpoint: string;
  readonly port: number;
  readonly directory: string;
  readonly accessKey: string;
  readonly secretKey: string;
  stop(): Promise<void>;
}

export async function startEmbeddedS3(options: { port?: number; host?: string; directory?: string } = {}): Promise<EmbeddedS3> {
  const directory = options.directory ?? mkdtempSync(join(tmpdir(), 'imageflow-s3-'));
  const host = options.host ?? '127.0.0.1';
  const s3 = new S3rver({ address: host, port: options.port ?? 0, silent: true, directory, vhostBuckets: false });
  makeObjectWritesAtomic(s3.store as S3rverStore);
  const { port } = (await s3.run()) as AddressInfo;
  const server = s3.httpServer as Server;
  return {
    endpoint: `http://${host}:${port}`,
    port,
    directory,
    ...EMBEDDED_S3_CREDENTIALS,
    async stop() {
      // Keep-alive clients would otherwise hold close() open.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
