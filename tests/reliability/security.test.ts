// mTLS between callers and the gRPC services (certificates made here with openssl), and no
// secret in any log line a request produces.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { OutputDelivery } from '../../services/shared/gen/imageflow/v1/common.js';
import { ResizeRequest, ResizeServiceClient } from '../../services/shared/gen/imageflow/v1/resize.js';
import { spawnService, type ServiceProcess } from '../../services/local-stack/launcher.js';
import { createLogger } from '../../services/shared/logger.js';
import { clientTlsFiles, type ClientTlsFiles } from '../../services/shared/grpc-client-tls.js';
import { GrpcChannel } from '../../services/gateway/grpc-channel.js';
import { makePhoto } from '../support/images.js';
import { startTestS3, type TestS3 } from '../support/s3.js';
import { codeOf, startService } from '../support/services.js';
import { makeTestPki, type TestPki } from './support/certs.js';

let s3: TestS3;
let pki: TestPki;
let tlsService: ServiceProcess;
let photo: Buffer;

beforeAll(async () => {
  pki = makeTestPki();
  s3 = await startTestS3();
  photo = await makePhoto(64, 48);
  await s3.storage.write({ bucket: 'imageflow', key: 'sec/in.jpg' }, photo, 'image/jpeg');
  tlsService = await startService('resize', {
    ...s3.env,
    METRICS_PORT: '0',
    GRPC_TLS_CERT_FILE: pki.serverCert,
    GRPC_TLS_KEY_FILE: pki.serverKey,
    GRPC_TLS_CA_FILE: pki.caCert,
  });
});

afterAll(async () => {
  await tlsService?.stop();
  await s3?.stop();
});

const inline = (): ResizeRequest => ({
  source: { data: photo },
  width: 32,
  fit: 0,
  withoutEnlargement: false,
  background: '',
  output: { delivery: OutputDelivery.OUTPUT_DELIVERY_INLINE, bucket: '', key: '', format: 0, quality: 0, reuseExisting: false },
});

/** One call on a fresh channel with these credentials; the status code name. */
async function codeWith(creds: grpc.ChannelCredentials, port: number): Promise<string> {
  const client = new ResizeServiceClient(`127.0.0.1:${port}`, creds, { 'grpc.initial_reconnect_backoff_ms': 100 });
  try {
    return await new Promise<string>((resolve) =>
      client.resize(inline(), new grpc.Metadata(), { deadline: Date.now() + 5_000 }, (err) => resolve(err ? grpc.status[err.code] : 'OK')),
    );
  } finally {
    client.close();
  }
}

/** The same call through the gateway's own client (grpc-channel.ts) with these TLS files; the status code name. */
async function codeWithGatewayChannel(tls: ClientTlsFiles | undefined, port: number): Promise<string> {
  const channel = new GrpcChannel({ target: `127.0.0.1:${port}`, tls, maxSendBytes: 64 << 20, maxReceiveBytes: 64 << 20, windowBytes: 1 << 20, keepaliveMs: 0, maxBackoffMs: 1_000 });
  try {
    const message = ResizeRequest.encode(inline()).finish();
    await channel.call({ path: '/imageflow.v1.ResizeService/Resize', message, metadata: {}, deadline: Date.now() + 5_000 });
    return 'OK';
  } catch (err) {
    return grpc.status[(err as { code: number }).code];
  } finally {
    channel.close();
  }
}

describe('mTLS (GRPC_TLS_CERT_FILE / KEY_FILE / CA_FILE)', () => {
  it('refuses a plaintext client', async () => {
    const started = Date.now();
    expect(await codeWith(grpc.credentials.createInsecure(), tlsService.port)).toBe('UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(6_000);
  });

  it('refuses a TLS client without a certificate, and one whose certificate another CA signed', async () => {
    expect(await codeWith(grpc.credentials.createSsl(pki.read(pki.caCert)), tlsService.port)).toBe('UNAVAILABLE');
    const stranger = grpc.credentials.createSsl(pki.read(pki.caCert), pki.read(pki.strangerKey), pki.read(pki.strangerCert));
    expect(await codeWith(stranger, tlsService.port)).toBe('UNAVAILABLE');
  });

  it('accepts a client with a certificate signed by the CA', async () => {
    const good = grpc.credentials.createSsl(pki.read(pki.caCert), pki.read(pki.clientKey), pki.read(pki.clientCert));
    expect(await codeWith(good, tlsService.port)).toBe('OK');
  });

  it('the gateway\'s client (clientTlsFiles + GrpcChannel) connects with the same GRPC_TLS_* variables', async () => {
    const env = { GRPC_TLS_CA_FILE: pki.caCert, GRPC_TLS_CERT_FILE: pki.clientCert, GRPC_TLS_KEY_FILE: pki.clientKey };
    expect(await codeWithGatewayChannel(clientTlsFiles(env), tlsService.port)).toBe('OK');
    expect(await codeWithGatewayChannel(clientTlsFiles({ GRPC_TLS_CA_FILE: pki.caCert }), tlsService.port)).toBe('UNAVAILABLE');
  });

  it('a client that does not trust the server certificate is refused too', async () => {
    const wrongTrust = grpc.credentials.createSsl(pki.read(pki.strangerCert), pki.read(pki.clientKey), pki.read(pki.clientCert));
    expect(await codeWith(wrongTrust, tlsService.port)).toBe('UNAVAILABLE');
  });
});

describe('no secret in logs', () => {
  it('request log lines carry no token, API key, cookie or S3 credential', async () => {
    const secret = 'SECRET-storage-key-5f1e2d';
    const token = 'tok-live-9a8b7c6d5e4f';
    const lines: string[] = [];
    // A wrong secret makes storage refuse: the error path, where credentials would most likely leak.
    const svc = await spawnService('resize', {
      env: { ...s3.env, MINIO_SECRET_KEY: secret, GRPC_HOST: '127.0.0.1', GRPC_PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'debug' },
      onLine: (_name, line) => lines.push(line),
    });
    const client = new ResizeServiceClient(`127.0.0.1:${svc.port}`, grpc.credentials.createInsecure());
    try {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${token}`);
      md.set('x-api-key', token);
      md.set('cookie', `session=${token}`);
      md.set('x-request-id', 'redaction-test-1');
      const codes: string[] = [];
      for (const req of [inline(), { ...inline(), source: { object: { bucket: 'imageflow', key: 'sec/in.jpg' } } }]) {
        codes.push(
          await new Promise<string>((resolve) =>
            client.resize(req, md, { deadline: Date.now() + 10_000 }, (err) => resolve(err ? grpc.status[err.code] : 'OK')),
          ),
        );
      }
      // The embedded s3rver does not check signatures; MinIO refuses the wrong secret.
      expect(codes).toEqual(['OK', s3.kind === 'minio' ? 'PERMISSION_DENIED' : 'OK']);
    } finally {
      client.close();
      await svc.stop();
    }
    const requestLines = lines.filter((l) => l.includes('redaction-test-1'));
    expect(requestLines.length).toBeGreaterThanOrEqual(2);
    if (s3.kind === 'minio') expect(requestLines.join('\n')).toMatch(/check MINIO_ACCESS_KEY\/MINIO_SECRET_KEY/);
    for (const line of lines) {
      expect(line).not.toContain(secret);
      expect(line).not.toContain(token);
    }
  });

  it('gateway log lines carry no API key, whether the key is right or wrong', async () => {
    const key = 'gw-key-3c2b1a0f9e8d7c6b';
    const wrong = 'gw-wrong-1f2e3d4c5b6a';
    const lines: string[] = [];
    const resizeProc = await startService('resize', { METRICS_PORT: '0' });
    const gw = await spawnService('gateway', {
      env: { HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', LOG_LEVEL: 'debug', GATEWAY_API_KEYS: key, RESIZE_GRPC_ENDPOINT: `127.0.0.1:${resizeProc.port}`, ...s3.env },
      onLine: (_name, line) => lines.push(line),
    });
    try {
      const base = `http://127.0.0.1:${gw.port}`;
      const send = (token: string, id: string, body: Buffer | string) =>
        fetch(`${base}/v1/resize?width=16`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'image/jpeg', 'x-request-id': id, cookie: `s=${token}` }, body });
      expect((await send(key, 'gw-redact-ok', photo)).status).toBe(200);
      expect((await send(key, 'gw-redact-bad-image', 'not an image')).status).toBe(400);
      expect((await send(wrong, 'gw-redact-wrong-key', photo)).status).toBe(401);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await gw.stop();
      await resizeProc.stop();
    }
    expect(lines.filter((l) => l.includes('gw-redact-')).length).toBeGreaterThanOrEqual(3);
    for (const line of lines) {
      expect(line).not.toContain(key);
      expect(line).not.toContain(wrong);
    }
  });

  it('the logger censors credential fields whatever object a caller logs', () => {
    const chunks: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    (process.stdout as { write: unknown }).write = (c: string | Uint8Array) => (chunks.push(String(c)), true);
    try {
      createLogger('test').info(
        {
          headers: { authorization: 'Bearer A-1', 'x-api-key': 'K-1', cookie: 'C-1' },
          req: { headers: { authorization: 'Bearer A-2' } },
          config: { secretKey: 'S-1', accessKey: 'AK-1', apiKeys: ['K-2'] },
          secretKey: 'S-2',
          token: 'T-1',
        },
        'probe',
      );
    } finally {
      (process.stdout as { write: unknown }).write = write;
    }
    const out = chunks.join('');
    expect(out).toContain('probe');
    for (const s of ['A-1', 'K-1', 'C-1', 'A-2', 'S-1', 'AK-1', 'K-2', 'S-2', 'T-1']) expect(out).not.toContain(s);
  });
});
