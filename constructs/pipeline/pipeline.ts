// A checked pipeline: built by the DSL (definePipeline) or read from a JSON document (fromJSON).
// Immutable; compiles to Argo objects.
import type { CronWorkflow, Workflow, WorkflowTemplate } from './argo-types.js';
import { assertValid, checkPipeline } from './checks.js';
import { compileDocument } from './compile.js';
import { cronWorkflowFor, workflowFor, type ScheduleOptions, type SubmitOptions } from './submit.js';
import { PipelineDocument, type StepDoc } from './document.js';
import { PipelineError } from './errors.js';
import type { CompileProps } from './props.js';

export class Pipeline {
  private constructor(private readonly doc: PipelineDocument) {}

  /** Check a document and wrap it. Throws the first PipelineError found. */
  static fromDocument(doc: PipelineDocument): Pipeline {
    const copy = structuredClone(doc);
    assertValid(copy);
    return new Pipeline(copy);
  }

  /** Read a pipeline document (object or JSON text) as a UI or backend would submit it. */
  static fromJSON(json: unknown): Pipeline {
    return Pipeline.fromDocument(parseDocument(json));
  }

  /** Every finding of the schema and the checks, without throwing (for `imageflow lint`). */
  static lint(json: unknown): PipelineError[] {
    try {
      return checkPipeline(parseDocument(json));
    } catch (e) {
      if (e instanceof PipelineError) return [e];
      throw e;
    }
  }

  get name(): string {
    return this.doc.name;
  }

  get description(): string | undefined {
    return this.doc.description;
  }

  /** The pipeline document; `Pipeline.fromJSON(p.toJSON())` gives an equal pipeline. */
  toJSON(): PipelineDocument {
    return structuredClone(this.doc);
  }

  /** The same pipeline with fusion switched on or off. */
  withFusion(on: boolean): Pipeline {
    return new Pipeline({ ...structuredClone(this.doc), options: { ...this.doc.options, fusion: on } });
  }

  /** The Argo WorkflowTemplate, as a plain object. */
  compile(props?: CompileProps): WorkflowTemplate {
    return compileDocument(this.doc, props);
  }

  /** A one-off Workflow referencing the WorkflowTemplate (or embedding it with `inline`). */
  toWorkflow(props?: CompileProps & SubmitOptions): Workflow {
    return workflowFor(this.compile(props), props);
  }

  /** A CronWorkflow running the pipeline on a schedule. */
  toCronWorkflow(props: CompileProps & ScheduleOptions): CronWorkflow {
    return cronWorkflowFor(this.compile(props), props);
  }
}

/** Parse and schema-check a document; the first problem becomes a PipelineError. */
export function parseDocument(json: unknown): PipelineDocument {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw new PipelineError('<unnamed>', undefined, undefined, `is not valid JSON: ${(e as Error).message}`);
    }
  }
  const parsed = PipelineDocument.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = deepestIssue(parsed.error.issues[0] as Issue);
  const doc = value as { name?: unknown; steps?: StepDoc[] };
  const name = typeof doc?.name === 'string' ? doc.name : '<unnamed>';
  const path = issue.path.map(String);
  let step: string | undefined;
  let field = path.join('.');
  if (path[0] === 'steps' && path.length > 1) {
    const id = doc.steps?.[Number(path[1])]?.id;
    step = typeof id === 'string' ? id : `#${path[1]}`;
    field = path.slice(2).join('.');
  }
  throw new PipelineError(name, step, field || undefined, issue.message);
}

type Issue = { code: string; path: PropertyKey[]; message: string; errors?: Issue[][] };

/** For a union that matched no branch, the first branch's own complaint says more than "Invalid input". */
function deepestIssue(issue: Issue): Issue {
  const branch = issue.code === 'invalid_union' ? issue.errors?.find((b) => b.length)?.[0] : undefined;
  return branch ? deepestIssue({ ...branch, path: [...issue.path, ...branch.path] }) : issue;
}

/** Plain-function forms for the CLI. */
export const compile = (pipeline: Pipeline, props?: CompileProps) => pipeline.compile(props);
export const toWorkflow = (pipeline: Pipeline, props?: CompileProps & SubmitOptions) => pipeline.toWorkflow(props);
export const toCronWorkflow = (pipeline: Pipeline, props: CompileProps & ScheduleOptions) => pipeline.toCronWorkflow(props);
