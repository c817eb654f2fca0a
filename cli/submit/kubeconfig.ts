// The user's kubeconfig, as kubectl finds it (--kubeconfig, $KUBECONFIG, ~/.kube/config, or the
// in-cluster service account). client-node would otherwise fall back to http://localhost:8080
// silently; we say plainly that there is no kubeconfig instead.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { clusterError } from '../exit-codes.js';

export interface KubeConfigOptions {
  readonly kubeconfig?: string;
  readonly context?: string;
}

export function loadKubeConfig(options: KubeConfigOptions, env = process.env): KubeConfig {
  const kc = new KubeConfig();
  const files = options.kubeconfig ? [options.kubeconfig] : (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  try {
    if (files.length) {
      const missing = files.filter((f) => !existsSync(f));
      if (missing.length === files.length) throw clusterError(`no kubeconfig: ${missing.join(', ')} does not exist`);
      if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
      else kc.loadFromDefault();
    } else if (existsSync(join(homedir(), '.kube', 'config'))) kc.loadFromDefault();
    else if (env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
    else
      throw clusterError(
        'no kubeconfig found: set KUBECONFIG, pass --kubeconfig FILE, or create ~/.kube/config (e.g. with your cluster\'s "get-credentials" command)',
      );
  } catch (err) {
    if (err instanceof Error && err.name === 'CliError') throw err;
    throw clusterError(`cannot read the kubeconfig: ${(err as Error).message}`);
  }
  if (options.context) {
    if (!kc.getContextObject(options.context)) throw clusterError(`--context ${options.context}: no such context in the kubeconfig (${kc.getContexts().map((c) => c.name).join(', ')})`);
    kc.setCurrentContext(options.context);
  }
  if (!kc.getCurrentCluster()) throw clusterError('the kubeconfig has no current cluster; pick one with --context');
  return kc;
}
