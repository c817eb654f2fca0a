// The subset of Argo's v1alpha1 types the compiler emits (plain objects; validated in tests
// against @kubernetes-models/argo-workflows and the CRD schemas).
export interface Parameter {
  name: string;
  value?: string;
  description?: string;
  enum?: string[];
  globalName?: string;
  valueFrom?: { parameter?: string; default?: string };
}

export interface HttpHeader {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef: { name: string; key: string } };
}

export interface RetryStrategy {
  /** Int-or-string fields are emitted as strings, which both Argo schemas accept. */
  limit: string;
  retryPolicy: 'Always';
  expression: string;
  backoff?: { duration: string; factor?: string; maxDuration?: string };
}

export interface DagTask {
  name: string;
  template: string;
  arguments?: { parameters: Parameter[] };
  dependencies?: string[];
  when?: string;
  withParam?: string;
  continueOn?: { failed?: boolean; error?: boolean };
}

export interface Template {
  name: string;
  inputs?: { parameters: Parameter[] };
  outputs?: { parameters: Parameter[] };
  dag?: { tasks: DagTask[]; failFast?: boolean };
  http?: {
    url: string;
    method: string;
    headers?: HttpHeader[];
    body?: string;
    timeoutSeconds: number;
  };
  retryStrategy?: RetryStrategy;
  synchronization?: { semaphores: { configMapKeyRef: { name: string; key: string } }[] };
}

export interface WorkflowSpec {
  entrypoint: string;
  serviceAccountName?: string;
  arguments?: { parameters: Parameter[] };
  templates: Template[];
  parallelism?: number;
  onExit?: string;
  ttlStrategy?: { secondsAfterCompletion?: number; secondsAfterSuccess?: number; secondsAfterFailure?: number };
  podGC?: { strategy: string };
  workflowMetadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface WorkflowTemplate {
  apiVersion: 'argoproj.io/v1alpha1';
  kind: 'WorkflowTemplate';
  metadata: ObjectMeta;
  spec: WorkflowSpec;
}

export interface Workflow {
  apiVersion: 'argoproj.io/v1alpha1';
  kind: 'Workflow';
  metadata: ObjectMeta;
  spec: Partial<WorkflowSpec> & { workflowTemplateRef?: { name: string } };
}

export interface CronWorkflow {
  apiVersion: 'argoproj.io/v1alpha1';
  kind: 'CronWorkflow';
  metadata: ObjectMeta;
  spec: {
    schedules: string[];
    timezone?: string;
    concurrencyPolicy?: 'Allow' | 'Forbid' | 'Replace';
    startingDeadlineSeconds?: number;
    suspend?: boolean;
    workflowMetadata?: { labels?: Record<string, string> };
    workflowSpec: Workflow['spec'];
  };
}
