// The shapes the runner reads, loosely typed on purpose: it accepts any WorkflowTemplate object
// (compiled in memory or read from YAML) after supported-fields.ts has vetted it.
export interface ParameterSpec {
  name: string;
  value?: string;
  default?: string;
  globalName?: string;
  valueFrom?: { parameter?: string; default?: string };
}

export interface RetryStrategySpec {
  limit?: string | number;
  retryPolicy?: 'Always' | 'OnFailure' | 'OnError';
  expression?: string;
  backoff?: { duration?: string; factor?: string | number; maxDuration?: string; cap?: string };
}

export interface DagTaskSpec {
  name: string;
  template: string;
  arguments?: { parameters?: ParameterSpec[] };
  dependencies?: string[];
  when?: string;
  withParam?: string;
  withItems?: unknown[];
  continueOn?: { failed?: boolean; error?: boolean };
}

export interface HttpSpec {
  url: string;
  method?: string;
  headers?: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }[];
  body?: string;
  timeoutSeconds?: number | string;
  successCondition?: string;
}

export interface TemplateSpec {
  name: string;
  inputs?: { parameters?: ParameterSpec[] };
  outputs?: { parameters?: ParameterSpec[] };
  dag?: { tasks: DagTaskSpec[]; failFast?: boolean };
  http?: HttpSpec;
  retryStrategy?: RetryStrategySpec;
  synchronization?: { semaphores?: { configMapKeyRef: { name: string; key: string } }[] };
}

export interface WorkflowTemplateObject {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; generateName?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    entrypoint: string;
    arguments?: { parameters?: ParameterSpec[] };
    templates: TemplateSpec[];
    parallelism?: number;
    onExit?: string;
    [clusterOnly: string]: unknown;
  };
}

/** Argo's node phases, as the runner reports them. */
export type NodePhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Error' | 'Skipped' | 'Omitted';

export type NodeType = 'DAG' | 'TaskGroup' | 'HTTP' | 'Retry' | 'Skipped';
