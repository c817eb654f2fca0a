// cdk8s: compiled pipelines as ApiObjects — all in one chart (what main.ts and addPipelines use),
// or one chart per pipeline for an API user who wants a file each.
import { ApiObject, Chart, type ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import type { Pipeline } from './pipeline.js';
import type { CompileProps } from './props.js';

export interface PipelineTemplateProps extends CompileProps {}

/** The WorkflowTemplate of one pipeline. */
export class PipelineTemplate extends Construct {
  readonly apiObject: ApiObject;

  constructor(scope: Construct, id: string, pipeline: Pipeline, props: PipelineTemplateProps = {}) {
    super(scope, id);
    const { apiVersion, kind, metadata, spec } = pipeline.compile(props);
    this.apiObject = new ApiObject(this, 'template', { apiVersion, kind, metadata, spec });
  }
}

export interface PipelineChartProps extends CompileProps, Omit<ChartProps, 'namespace'> {}

export interface PipelinesChartProps extends PipelineChartProps {
  /** The chart's id, hence the file name `dist/<id>.k8s.yaml`. @default 'pipelines' */
  readonly id?: string;
}

/**
 * Every pipeline's WorkflowTemplate in one chart, so `cdk8s synth` writes one
 * `dist/pipelines.k8s.yaml`. One chart rather than one per pipeline because cdk8s resolves
 * dependencies and validates the whole app once per chart: n charts cost O(n²) (1,000
 * pipelines took ~17× the time of 100), one chart costs O(n).
 */
export class PipelinesChart extends Chart {
  readonly templates: readonly PipelineTemplate[];

  constructor(scope: Construct, pipelines: readonly Pipeline[], props: PipelinesChartProps = {}) {
    super(scope, props.id ?? 'pipelines', { labels: props.labels, disableResourceNameHashes: true });
    const seen = new Set<string>();
    for (const p of pipelines) {
      // Two templates of one name would overwrite each other in the cluster: say so at synth.
      if (seen.has(p.name)) throw new Error(`pipeline "${p.name}" is added twice; pipeline names must be unique (they name the WorkflowTemplates)`);
      seen.add(p.name);
    }
    this.templates = pipelines.map((p) => new PipelineTemplate(this, p.name, p, props));
  }
}

/**
 * One chart per pipeline (`dist/pipeline-<name>.k8s.yaml`). Fine for a handful; for many
 * pipelines prefer `PipelinesChart`/`addPipelines`, since synthesis time grows with charts².
 */
export class PipelineChart extends Chart {
  readonly template: PipelineTemplate;

  constructor(scope: Construct, pipeline: Pipeline, props: PipelineChartProps = {}) {
    super(scope, `pipeline-${pipeline.name}`, { labels: props.labels, disableResourceNameHashes: true });
    this.template = new PipelineTemplate(this, 'workflow-template', pipeline, props);
  }
}

/** Add every pipeline to an app (or any scope) as one `PipelinesChart`. */
export function addPipelines(scope: Construct, pipelines: readonly Pipeline[], props: PipelinesChartProps = {}): PipelinesChart {
  return new PipelinesChart(scope, pipelines, props);
}
