import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { PART_OF_LABEL, PART_OF_VALUE } from './hardened-workload.js';
import { requireDns1123Label } from './invariants.js';

export const DEFAULT_WORKFLOW_SERVICE_ACCOUNT = 'imageflow-workflow';

export interface WorkflowRbacProps {
  readonly namespace: string;
  /** @default "imageflow-workflow" */
  readonly serviceAccountName?: string;
  /**
   * Secrets the Argo agent may `get`, for HTTP template headers taken from a Secret (the gateway
   * API key). An empty list grants no Secret access at all.
   * @default none
   */
  readonly readableSecrets?: readonly string[];
}

/**
 * What Argo HTTP templates need and users forget: a ServiceAccount for workflows, a Role the
 * agent uses to read its task sets and report results, the RoleBinding, and the long-lived token
 * Secret that Kubernetes ≥ 1.24 no longer creates on its own.
 */
export class WorkflowRbac extends Construct {
  public readonly serviceAccountName: string;
  public readonly tokenSecretName: string;

  constructor(scope: Construct, id: string, props: WorkflowRbacProps) {
    super(scope, id);
    this.serviceAccountName = requireDns1123Label('WorkflowRbac: serviceAccountName', props.serviceAccountName ?? DEFAULT_WORKFLOW_SERVICE_ACCOUNT);
    this.tokenSecretName = `${this.serviceAccountName}-token`;
    const metadata = (name: string) => ({ name, namespace: props.namespace, labels: { [PART_OF_LABEL]: PART_OF_VALUE } });

    new kplus.k8s.KubeServiceAccount(this, 'ServiceAccount', { metadata: metadata(this.serviceAccountName) });

    const rules: kplus.k8s.PolicyRule[] = [
      // The agent watches its WorkflowTaskSet, then patches the results into its status.
      { apiGroups: ['argoproj.io'], resources: ['workflowtasksets'], verbs: ['list', 'watch'] },
      { apiGroups: ['argoproj.io'], resources: ['workflowtasksets/status'], verbs: ['patch'] },
      // The executor reports step outputs through WorkflowTaskResults (Argo ≥ 3.4).
      { apiGroups: ['argoproj.io'], resources: ['workflowtaskresults'], verbs: ['create', 'patch'] },
    ];
    const secrets = props.readableSecrets ?? [];
    if (secrets.length > 0) {
      rules.push({ apiGroups: [''], resources: ['secrets'], resourceNames: [...secrets], verbs: ['get'] });
    }
    new kplus.k8s.KubeRole(this, 'Role', { metadata: metadata(this.serviceAccountName), rules });
    new kplus.k8s.KubeRoleBinding(this, 'RoleBinding', {
      metadata: metadata(this.serviceAccountName),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: this.serviceAccountName },
      subjects: [{ kind: 'ServiceAccount', name: this.serviceAccountName, namespace: props.namespace }],
    });
    new kplus.k8s.KubeSecret(this, 'Token', {
      metadata: {
        ...metadata(this.tokenSecretName),
        annotations: { 'kubernetes.io/service-account.name': this.serviceAccountName },
      },
      // The token controller fills in the data; the manifest carries none.
      type: 'kubernetes.io/service-account-token',
    });
  }
}
