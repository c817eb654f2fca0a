// The few Argo API calls `submit` makes, through @kubernetes/client-node, with Kubernetes errors
// turned into messages that say what to do (and exit code 3).
import { ApiException, CustomObjectsApi, Watch, type KubeConfig } from '@kubernetes/client-node';
import { clusterError } from '../exit-codes.js';

const GROUP = 'argoproj.io';
const VERSION = 'v1alpha1';

/** The Workflow fields `submit` reads. */
export interface ArgoWorkflow {
  apiVersion: string;
  kind: 'Workflow';
  metadata: { name?: string; generateName?: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  spec: Record<string, unknown>;
  status?: {
    phase?: string;
    message?: string;
    startedAt?: string;
    finishedAt?: string;
    progress?: string;
    nodes?: Record<string, ArgoNode>;
    outputs?: { parameters?: { name: string; value?: string }[] };
  };
}

export interface ArgoNode {
  id: string;
  name: string;
  displayName: string;
  type: string;
  templateName?: string;
  phase?: string;
  message?: string;
  boundaryID?: string;
  children?: string[];
  startedAt?: string;
  finishedAt?: string;
  outputs?: { result?: string; parameters?: { name: string; value?: string }[] };
}

export class ArgoApi {
  private readonly api: CustomObjectsApi;
  readonly server: string;

  constructor(private readonly kc: KubeConfig) {
    this.api = kc.makeApiClient(CustomObjectsApi);
    this.server = kc.getCurrentCluster()?.server ?? '?';
  }

  /** The WorkflowTemplate, or undefined when it does not exist. */
  async getTemplate(namespace: string, name: string): Promise<unknown | undefined> {
    try {
      return await this.api.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'workflowtemplates', name });
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return undefined;
      throw this.explain(err, `read WorkflowTemplate ${namespace}/${name}`);
    }
  }

  async createWorkflow(namespace: string, body: unknown): Promise<ArgoWorkflow> {
    try {
      return (await this.api.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'workflows', body })) as ArgoWorkflow;
    } catch (err) {
      throw this.explain(err, `create a Workflow in namespace ${namespace}`);
    }
  }

  async getWorkflow(namespace: string, name: string): Promise<ArgoWorkflow> {
    try {
      return (await this.api.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'workflows', name })) as ArgoWorkflow;
    } catch (err) {
      throw this.explain(err, `read Workflow ${namespace}/${name}`);
    }
  }

  /**
   * Streams the workflow's watch events (ADDED/MODIFIED/DELETED) to onEvent until `until` says it is
   * done; reconnects from the last resourceVersion when the server closes the stream.
   */
  async watchWorkflow(namespace: string, name: string, resourceVersion: string | undefined, onEvent: (type: string, wf: ArgoWorkflow) => boolean): Promise<void> {
    const watch = new Watch(this.kc);
    const path = `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/workflows`;
    let version = resourceVersion;
    let failures = 0;
    for (;;) {
      let finished = false;
      let received = false;
      let controller: AbortController | undefined;
      const ended = await new Promise<unknown>((resolve) => {
        watch
          .watch(
            path,
            { fieldSelector: `metadata.name=${name}`, ...(version ? { resourceVersion: version } : {}), allowWatchBookmarks: true },
            (type, obj: ArgoWorkflow) => {
              if (finished) return;
              received = true;
              if (type === 'BOOKMARK') {
                version = obj.metadata?.resourceVersion ?? version;
                return;
              }
              if (type === 'ERROR') {
                // 410 Gone: our resourceVersion is too old; start over from now.
                version = undefined;
                return;
              }
              version = obj.metadata?.resourceVersion ?? version;
              if (onEvent(type, obj)) {
                finished = true;
                controller?.abort();
                resolve(undefined);
              }
            },
            (err) => resolve(err ?? null),
          )
          .then((c) => (controller = c))
          .catch((err: unknown) => resolve(err));
      });
      if (finished) return;
      // The API server ends every watch after a while: reconnect from the last resourceVersion.
      // Errors in a row (unreachable, 5xx) give up after a few tries.
      failures = ended && !received ? failures + 1 : 0;
      if (failures >= 5) throw this.explain(ended, `watch Workflow ${namespace}/${name}`);
      await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** failures, 5000)));
    }
  }

  private explain(err: unknown, action: string): Error {
    if (err instanceof ApiException) {
      const message = statusMessage(err.body);
      if (err.code === 401) return clusterError(`cannot ${action}: the API server did not accept our credentials (401); refresh your kubeconfig login${message}`);
      if (err.code === 403)
        return clusterError(`cannot ${action}: forbidden (403)${message}; ask for RBAC that allows it (check with \`kubectl auth can-i create workflows.argoproj.io -n <namespace>\`)`);
      if (err.code === 404)
        return clusterError(`cannot ${action}: not found (404)${message}; is Argo Workflows installed (its CRDs) and does the namespace exist?`);
      if (err.code === 422 || err.code === 400) return clusterError(`cannot ${action}: the API server rejected the object (${err.code})${message}`);
      return clusterError(`cannot ${action}: API server answered ${err.code}${message}`);
    }
    const e = err as { code?: string; cause?: { code?: string }; message?: string };
    const code = e.code ?? e.cause?.code;
    if (code && ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN'].includes(code))
      return clusterError(`cannot ${action}: the API server ${this.server} is unreachable (${code}); check your network/VPN and the kubeconfig's current context`);
    return clusterError(`cannot ${action} at ${this.server}: ${e.message ?? String(err)}`);
  }
}

function statusMessage(body: unknown): string {
  let b = body;
  if (typeof b === 'string') {
    try {
      b = JSON.parse(b);
    } catch {
      return b ? `: ${b}` : '';
    }
  }
  const m = (b as { message?: string } | undefined)?.message;
  return m ? `: ${m}` : '';
}
