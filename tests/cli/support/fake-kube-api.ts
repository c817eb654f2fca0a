// A stand-in for the Kubernetes API server (Argo's CRDs), on loopback, built from the real API:
//   GET  /apis/argoproj.io/v1alpha1/namespaces/{ns}/workflowtemplates/{name}
//   POST /apis/argoproj.io/v1alpha1/namespaces/{ns}/workflows            (generateName → name)
//   GET  /apis/argoproj.io/v1alpha1/namespaces/{ns}/workflows/{name}
//   GET  /apis/argoproj.io/v1alpha1/namespaces/{ns}/workflows?watch=true&fieldSelector=metadata.name=X
//        → newline-delimited watch events {"type":"MODIFIED","object":{...}}
// Errors are metav1.Status objects, as the API server sends them. HTTPS with a throw-away
// self-signed certificate (client-node refuses plain HTTP, as kubectl setups never use it) and
// Bearer-token auth, as with a real cluster.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TOKEN = 'imageflow-test-token';
const BASE = /^\/apis\/argoproj\.io\/v1alpha1\/namespaces\/([^/]+)\/(workflows|workflowtemplates)(?:\/([^/?]+))?$/;

/** One watch connection's events; the server closes the stream after them (clients reconnect). */
export type WatchBatch = readonly { readonly type: string; readonly status: Record<string, unknown> }[];

export interface FakeKubeOptions {
  /** WorkflowTemplates present, by `namespace/name`. */
  readonly templates?: Readonly<Record<string, unknown>>;
  /** Answer creates with 403 Forbidden. */
  readonly forbidCreate?: boolean;
  /** Status updates streamed to watchers, one batch per watch connection. */
  readonly watchBatches?: readonly WatchBatch[];
}

export interface FakeKubeApi {
  readonly server: string;
  readonly kubeconfig: string;
  /** Bodies of POSTed workflows, as received. */
  readonly created: Record<string, unknown>[];
  /** `METHOD path?query` of every request. */
  readonly requests: string[];
  close(): Promise<void>;
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
}

const json = (res: ServerResponse, code: number, body: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

export async function startFakeKubeApi(options: FakeKubeOptions = {}): Promise<FakeKubeApi> {
  const created: Record<string, unknown>[] = [];
  const requests: string[] = [];
  const workflows = new Map<string, Record<string, any>>();
  let version = 1;
  let watchConnections = 0;
  const server: Server = createServer(serverTls(), (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      requests.push(`${req.method} ${url.pathname}${url.search}`);
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return status(res, 401, 'Unauthorized', 'Unauthorized');
      const m = BASE.exec(url.pathname);
      if (!m) return status(res, 404, 'NotFound', 'the server could not find the requested resource');
      const [, ns, plural, name] = m;
      if (plural === 'workflowtemplates') {
        const t = options.templates?.[`${ns}/${name}`];
        if (req.method === 'GET' && name && t) return json(res, 200, t);
        return status(res, 404, 'NotFound', `workflowtemplates.argoproj.io "${name}" not found`);
      }
      if (req.method === 'POST' && !name) {
        const body = JSON.parse(await readBody(req)) as Record<string, any>;
        created.push(body);
        if (options.forbidCreate)
          return status(res, 403, 'Forbidden', `workflows.argoproj.io is forbidden: User "system:serviceaccount:ci:deployer" cannot create resource "workflows" in API group "argoproj.io" in the namespace "${ns}"`);
        const wfName = body.metadata.name ?? `${body.metadata.generateName}x7k2p`;
        const wf = { ...body, metadata: { ...body.metadata, name: wfName, namespace: ns, uid: 'uid-1', resourceVersion: String(version++), creationTimestamp: new Date().toISOString() }, status: {} };
        workflows.set(wfName, wf);
        return json(res, 201, wf);
      }
      if (req.method === 'GET' && name) {
        const wf = workflows.get(name);
        return wf ? json(res, 200, wf) : status(res, 404, 'NotFound', `workflows.argoproj.io "${name}" not found`);
      }
      if (req.method === 'GET' && url.searchParams.get('watch') && ['true', '1'].includes(url.searchParams.get('watch')!)) {
        const wfName = /^metadata\.name=(.+)$/.exec(url.searchParams.get('fieldSelector') ?? '')?.[1];
        const wf = wfName ? workflows.get(wfName) : undefined;
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        const batch = options.watchBatches?.[watchConnections++] ?? [];
        for (const event of batch) {
          await new Promise((r) => setTimeout(r, 40));
          if (!wf) break;
          wf.status = event.status;
          wf.metadata.resourceVersion = String(version++);
          res.write(`${JSON.stringify({ type: event.type, object: wf })}\n`);
        }
        // Like the API server's watch timeout: the stream ends; the client reconnects.
        return res.end();
      }
      return status(res, 405, 'MethodNotAllowed', `${req.method} is not supported here`);
    })().catch((err: Error) => status(res, 500, 'InternalError', err.message));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const serverUrl = `https://127.0.0.1:${port}`;
  return {
    server: serverUrl,
    kubeconfig: writeKubeconfig(serverUrl),
    created,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let tls: { key: Buffer; cert: Buffer } | undefined;

/** A self-signed certificate for 127.0.0.1, made once per test file with the openssl CLI. */
function serverTls(): { key: Buffer; cert: Buffer } {
  if (!tls) {
    const dir = mkdtempSync(join(tmpdir(), 'imageflow-kube-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=stand-in-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: ['ignore', 'ignore', 'pipe'] });
    tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  }
  return tls;
}

/** A kubeconfig file pointing at `server` with the test token, trusting the stand-in's certificate. */
export function writeKubeconfig(server: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'imageflow-kube-')), 'config');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: stand-in
  cluster:
    server: ${server}
    certificate-authority-data: ${serverTls().cert.toString('base64')}
users:
- name: tester
  user:
    token: ${TOKEN}
contexts:
- name: stand-in
  context:
    cluster: stand-in
    user: tester
    namespace: image-processing
current-context: stand-in
`,
  );
  return file;
}
