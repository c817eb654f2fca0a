// The gateway's channels with TLS: a resize service requiring client certificates (mTLS) is
// reached with GRPC_TLS_CA_FILE + GRPC_TLS_CERT_FILE + GRPC_TLS_KEY_FILE, and refused without a
// client certificate. Certificates are made with openssl for this run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startService } from '../support/services.js';
import { makePhoto } from '../support/images.js';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { type RunningGateway, postRaw, request, startGateway } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'gateway-tls-'));
const f = (name: string) => join(dir, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

function makeCertificates(): void {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=imageflow-test-ca', '-keyout', f('ca.key'), '-out', f('ca.pem'));
  for (const [name, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth'],
    ['client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    writeFileSync(f(`${name}.ext`), `${ext}\n`);
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
    openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`));
  }
}

let resize: ServiceProcess;
let mtls: RunningGateway;
let caOnly: RunningGateway;
let photo: Buffer;

beforeAll(async () => {
  makeCertificates();
  photo = await makePhoto(320, 240);
  resize = await startService('resize', { GRPC_TLS_CERT_FILE: f('server.pem'), GRPC_TLS_KEY_FILE: f('server.key'), GRPC_TLS_CA_FILE: f('ca.pem') });
  const endpoint = { RESIZE_GRPC_ENDPOINT: `127.0.0.1:${resize.port}`, RETRY_MAX_ATTEMPTS: '1', HEALTH_DEADLINE_MS: '1000' };
  [mtls, caOnly] = await Promise.all([
    startGateway({ ...endpoint, GRPC_TLS_CA_FILE: f('ca.pem'), GRPC_TLS_CERT_FILE: f('client.pem'), GRPC_TLS_KEY_FILE: f('client.key') }),
    startGateway({ ...endpoint, GRPC_TLS_CA_FILE: f('ca.pem') }),
  ]);
}, 120_000);

afterAll(async () => {
  await Promise.all([mtls?.stop(), caOnly?.stop()]);
  await resize?.stop();
});

describe('TLS to the services', () => {
  it('calls a service that requires client certificates', async () => {
    const a = await postRaw(mtls.base, '/v1/resize?width=80', photo);
    expect(a.status).toBe(200);
    expect(a.headers.get('x-image-width')).toBe('80');
    expect((await request(mtls.base, '/ready')).status).toBe(200);
  });

  it('without a client certificate the service refuses: 503, and /ready says so', async () => {
    const a = await postRaw(caOnly.base, '/v1/resize?width=80', photo);
    expect([a.status, a.json.error.code]).toEqual([503, 'UNAVAILABLE']);
    expect((await request(caOnly.base, '/ready')).status).toBe(503);
  });
});
