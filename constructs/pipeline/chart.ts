// cdk8s: a compiled pipeline as an ApiObject, in its own Chart or any scope.
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

/** One chart per pipeline, so `cdk8s synth` writes `dist/pipeline-<name>.k8s.yaml`. */
export class PipelineChart extends Chart {
  readonly template: PipelineTemplate;

  constructor(scope: Construct, pipeline: Pipeline, props: PipelineChartProps = {}) {
    super(scope, `pipeline-${pipeline.name}`, { labels: props.labels, disableResourceNameHashes: true });
    this.template = new PipelineTemplate(this, 'workflow-template', pipeline, props);
  }
}

/** Add every pipeline to an app (or any scope), one chart each. */
export function addPipelines(scope: Construct, pipelines: readonly Pipeline[], props: PipelineChartProps = {}): PipelineChart[] {
  return pipelines.map((p) => new PipelineChart(scope, p, props));
}
