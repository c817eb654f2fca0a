// S3-compatible storage through the minio client. Every call has a deadline; failures become
// gRPC status codes (missing → NOT_FOUND, unreachable → UNAVAILABLE). Writes are single PUTs of
// a complete buffer, so an object is either wholly there or not there at all.
import http from 'node:http';
import https from 'node:https';
import * as Minio from 'minio';
import type { Readable } from 'node:stream';
import { Code, ServiceError, isNetworkError, notFound, resourceExhausted, unavailable } from './errors.js';
import { serviceMetrics } from './metrics.js';
import { SpanKind, withSpan } from './tracing.js';

export interface ObjectLocation {
  readonly bucket: string;
  readonly key: string;
}

export interface StorageOptions {
  /** `host:port` or an http(s) URL. */
  readonly endpoint: string;
  readonly accessKey: string;
  readonly secretKey: string;
  /** Ignored when the endpoint is a URL (its scheme decides). @default false */
  readonly useSSL?: boolean;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** Deadline of each storage call. @default 10000 */
  readonly timeoutMs?: number;
}

export interface StoredObject {
  readonly data: Buffer;
  readonly etag: string;
}

export interface ObjectInfo {
  readonly etag: string;
  readonly size: number;
  /** User metadata, lower-case keys without the x-amz-meta- prefix. */
  readonly metadata: Record<string, string>;
}

export const describe = (loc: ObjectLocation) => `s3://${loc.bucket}/${loc.key}`;

export function parseEndpoint(endpoint: string, useSSL = false): { host: string; port: number; useSSL: boolean } {
  const hasScheme = /^[a-z]+:\/\//i.test(endpoint);
  const url = new URL(hasScheme ? endpoint : `${useSSL ? 'https' : 'http'}://${endpoint}`);
  const tls = url.protocol === 'https:';
  return { host: url.hostname, port: url.port ? Number(url.port) : tls ? 443 : 80, useSSL: tls };
}

export class Storage {
  private readonly client: Minio.Client;
  private readonly timeoutMs: number;
  readonly endpoint: string;

  constructor(options: StorageOptions) {
    const { host, port, useSSL } = parseEndpoint(options.endpoint, options.useSSL);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.endpoint = `${useSSL ? 'https' : 'http'}://${host}:${port}`;
    // One keep-alive pool per process: a TCP+TLS handshake per object would dominate small calls.
    const Agent = useSSL ? https.Agent : http.Agent;
    this.client = new Minio.Client({
      endPoint: host,
      port,
      useSSL,
      accessKey: options.accessKey,
      secretKey: options.secretKey,
      region: options.region ?? 'us-east-1',
      pathStyle: true,
      transportAgent: new Agent({ keepAlive: true, maxSockets: 64, timeout: this.timeoutMs }),
    });
  }

  async read(loc: ObjectLocation, maxBytes: number): Promise<StoredObject> {
    return this.call(`read ${describe(loc)}`, loc, async () => {
      // One GET: its headers give the size (refused before the body is read) and the etag of the
      // version it returns, which a stat before it could not (a write may come in between).
      const stream = await this.client.getObject(loc.bucket, loc.key).catch((err: unknown) => {
        if ((err as { code?: string }).code === 'NoSuchBucket') throw notFound(`bucket "${loc.bucket}" does not exist`);
        throw err;
      });
      const headers = (stream as Partial<http.IncomingMessage>).headers ?? {};
      const declared = Number(headers['content-length']);
      if (declared > maxBytes) {
        stream.destroy();
        throw resourceExhausted(`${describe(loc)} is ${declared} bytes, over the limit of ${maxBytes}`);
      }
      const data = await collect(stream, maxBytes, loc);
      if (Number.isFinite(declared) && declared !== data.length) {
        throw unavailable(`storage returned ${data.length} of the ${declared} bytes of ${describe(loc)}; try again`);
      }
      return { data, etag: unquoteEtag(String(headers.etag ?? '')) };
    });
  }

  /** The object's metadata, or undefined when it does not exist. */
  async stat(loc: ObjectLocation): Promise<ObjectInfo | undefined> {
    try {
      return await this.call(`stat ${describe(loc)}`, loc, async () => {
        const s = await this.client.statObject(loc.bucket, loc.key);
        const metadata: Record<string, string> = {};
        for (const [k, v] of Object.entries(s.metaData ?? {})) metadata[k.toLowerCase().replace(/^x-amz-meta-/, '')] = String(v);
        return { etag: s.etag, size: s.size, metadata };
      });
    } catch (err) {
      if (err instanceof ServiceError && err.code === Code.NOT_FOUND) return undefined;
      throw err;
    }
  }

  async write(
    loc: ObjectLocation,
    data: Buffer,
    contentType: string,
    metadata: Record<string, string> = {},
  ): Promise<{ etag: string }> {
    return this.call(`write ${describe(loc)}`, loc, async () => {
      const headers: Record<string, string> = { 'Content-Type': contentType };
      for (const [k, v] of Object.entries(metadata)) headers[`X-Amz-Meta-${k}`] = v;
      const res = await this.client.putObject(loc.bucket, loc.key, data, data.length, headers);
      return { etag: res.etag };
    });
  }

  async bucketExists(bucket: string): Promise<boolean> {
    return this.call(`check bucket ${bucket}`, { bucket, key: '' }, () => this.client.bucketExists(bucket));
  }

  async ensureBucket(bucket: string, region = 'us-east-1'): Promise<void> {
    if (await this.bucketExists(bucket)) return;
    await this.call(`create bucket ${bucket}`, { bucket, key: '' }, async () => {
      try {
        await this.client.makeBucket(bucket, region);
      } catch (err) {
        // Another process may have created it in between.
        if ((err as { code?: string }).code !== 'BucketAlreadyOwnedByYou') throw err;
      }
    });
  }

  async remove(loc: ObjectLocation): Promise<void> {
    await this.call(`remove ${describe(loc)}`, loc, () => this.client.removeObject(loc.bucket, loc.key));
  }

  async list(bucket: string, prefix = ''): Promise<string[]> {
    return this.call(`list ${bucket}/${prefix}`, { bucket, key: prefix }, async () => {
      const keys: string[] = [];
      for await (const item of this.client.listObjectsV2(bucket, prefix, true)) {
        if (item.name) keys.push(item.name);
      }
      return keys;
    });
  }

  /** Runs one storage call under a deadline and maps its failure to a status code. */
  private async call<T>(what: string, loc: ObjectLocation, fn: () => Promise<T>): Promise<T> {
    // Each storage call is a client span under the active gRPC call and a timed metric series.
    const operation = what.split(' ', 1)[0];
    const end = serviceMetrics().storageDuration.startTimer({ operation });
    const attributes = { 'aws.s3.bucket': loc.bucket, 'aws.s3.key': loc.key, 'server.address': this.endpoint };
    return withSpan(`s3 ${operation}`, { kind: SpanKind.CLIENT, attributes }, async () => {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(unavailable(`storage at ${this.endpoint} did not answer within ${this.timeoutMs} ms (${what})`)),
          this.timeoutMs,
        );
      });
      try {
        const result = await Promise.race([fn(), deadline]);
        end({ outcome: 'ok' });
        return result;
      } catch (err) {
        const mapped = mapStorageError(err, what, loc, this.endpoint);
        end({ outcome: Code[mapped.code] ?? String(mapped.code) });
        throw mapped;
      } finally {
        clearTimeout(timer);
      }
    });
  }
}

function mapStorageError(err: unknown, what: string, loc: ObjectLocation, endpoint: string): ServiceError {
  if (err instanceof ServiceError) return err;
  const code = (err as { code?: string }).code;
  if (code === 'NoSuchBucket') return notFound(`bucket "${loc.bucket}" does not exist (${what})`, err);
  if (code === 'NoSuchKey' || code === 'NotFound') return notFound(`object ${describe(loc)} does not exist`, err);
  if (code === 'AccessDenied' || code === 'InvalidAccessKeyId' || code === 'SignatureDoesNotMatch') {
    return new ServiceError(Code.PERMISSION_DENIED, `storage refused ${what}: ${code}; check MINIO_ACCESS_KEY/MINIO_SECRET_KEY`, { cause: err });
  }
  // The client's own argument checks (InvalidBucketNameError, InvalidObjectNameError, ...).
  if (code === 'InvalidBucketName' || /^Invalid\w*Error$/.test((err as Error)?.name ?? '')) {
    return new ServiceError(Code.INVALID_ARGUMENT, `storage rejected ${what}: ${(err as Error).message}`, { cause: err });
  }
  if (isNetworkError(err)) return unavailable(`storage at ${endpoint} unreachable (${what}): ${(err as Error).message}`, err);
  return unavailable(`storage failed (${what}): ${(err as Error).message ?? String(err)}`, err);
}

/** An ETag header as statObject reports it: without the quotes (plain or as XML entities). */
const unquoteEtag = (etag: string) => etag.replace(/^("|&quot;|&#34;)|("|&quot;|&#34;)$/g, '');

async function collect(stream: Readable, maxBytes: number, loc: ObjectLocation): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      stream.destroy();
      throw resourceExhausted(`${describe(loc)} is larger than the limit of ${maxBytes} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}
