// The pipeline DSL and its compiler to Argo WorkflowTemplates.
export { definePipeline, PipelineBuilder, StepsBuilder, ImageStep, DetectStep, HttpStep, ForEachStep } from './dsl.js';
export type { Valued, ResizeSpec, FilterSpec, DetectSpec, HttpSpec, HttpBody, RunOptions, StepHandle, PipelineDefinition } from './dsl.js';
export { param } from './params.js';
export { Param, ImageRef, ImageListRef, DetectionsRef, DetectionCount, and, or, not } from './refs.js';
export type { DetectionFilter } from './refs.js';
export { Pipeline, compile, toWorkflow, toCronWorkflow, parseDocument } from './pipeline.js';
export { PipelineDocument, pipelineDocumentJsonSchema } from './document.js';
export type { Condition, StepDoc, PipelineOptions, Retry, ContinueOn } from './document.js';
export { PipelineError } from './errors.js';
export { checkPipeline } from './checks.js';
export { workflowFor, cronWorkflowFor } from './submit.js';
export type { SubmitOptions, ScheduleOptions } from './submit.js';
export {
  compileDocument,
  retryStrategy,
  DEFAULT_RETRY,
  DEFAULT_TIMEOUT_SECONDS,
  FUSION_ANNOTATION,
  FUSED_TASKS_ANNOTATION,
  PIPELINE_LABEL,
} from './compile.js';
export * as expressions from './expressions.js';
export type { CompileProps, ApiKeyProps } from './props.js';
export {
  DEFAULT_NAMESPACE,
  DEFAULT_GATEWAY_URL,
  DEFAULT_SERVICE_ACCOUNT,
  DEFAULT_API_KEY_SECRET,
  DEFAULT_API_KEY_KEY,
} from './props.js';
export { PipelineChart, PipelinesChart, PipelineTemplate, addPipelines } from './chart.js';
export type { PipelineChartProps, PipelinesChartProps, PipelineTemplateProps } from './chart.js';
export type * from './argo-types.js';
// For tools that draw or run a pipeline (graph, local runner): which steps became which task.
export { planPipeline } from './plan.js';
export type { PlannedDag, PlannedTask, PlannedForEach } from './plan.js';
