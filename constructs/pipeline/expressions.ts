// Every Argo template tag and expression the compiler emits, in one place. The local runner
// (issue 7) must evaluate exactly these forms and nothing else, so keep this list short:
//
// Simple tags (plain substitution):
//   {{workflow.parameters.NAME}}           a number/boolean/list parameter (bare in a JSON body), withParam, a URL
//   {{inputs.parameters.NAME}}             a template input (body, url, image of a forEach branch)
//   {{item}}                               the current element of withParam
//   {{tasks.TASK.outputs.result}}          a task's whole JSON answer (DAG outputs)
//   {{tasks.TASK.outputs.parameters.result}}  a forEach task's gathered JSON array (DAG outputs)
//   {{workflow.name}}, {{workflow.status}} exit handler body only
// Expression tags ({{= … }}, expr-lang):
//   {{=jsonpath(tasks['TASK'].outputs.result, 'PATH')}}   PATH is one of RESULT_PATHS
//   {{=toJson(STR)}}   a string inside a JSON body, written as a JSON string literal (quotes
//                      included, `"` and `\` escaped), STR one of: workflow.parameters['NAME'],
//                      inputs.parameters.image, jsonpath(tasks['TASK'].outputs.result, '$.output.key')
//   {{=COND}} in `when`, where COND is built only from:
//     count(jsonpath(tasks['TASK'].outputs.result, 'PATH'), {PRED}) OP N
//        PRED: true | #.label in ['a', 'b'] | #.confidence >= C | both joined with &&
//     workflow.parameters['NAME'] OP 'text'        (== and != only; booleans compare as 'true'/'false')
//     asFloat(workflow.parameters['NAME']) OP N    (number parameters)
//     (A && B), (A || B), !(A)
//   OP is one of == != > >= < <=.
// retryStrategy.expression is the constant RETRY_ON_TRANSIENT below.
import type { CompareOp, Condition } from './document.js';

/** The only JSON paths read out of a gateway answer. */
export const RESULT_PATHS = {
  /** The stored output image's key (single operation or fused chain). */
  outputKey: '$.output.key',
  /** Detections of an unfused detect task. */
  detections: '$.detections',
  /** Detections of the detect step at index I of a fused chain. */
  chainDetections: (index: number) => `$.steps[${index}].detections`,
} as const;

export const workflowParam = (name: string) => `{{workflow.parameters.${name}}}`;
export const templateInput = (name: string) => `{{inputs.parameters.${name}}}`;
export const LOOP_ITEM = '{{item}}';
export const taskResult = (task: string) => `{{tasks.${task}.outputs.result}}`;
export const gatheredResults = (task: string) => `{{tasks.${task}.outputs.parameters.result}}`;
export const WORKFLOW_NAME = '{{workflow.name}}';
export const WORKFLOW_STATUS = '{{workflow.status}}';

const resultOf = (task: string, path: string) => `jsonpath(tasks[${quote(task)}].outputs.result, ${quote(path)})`;

/** A value extracted from an upstream task's answer, e.g. the key of the image it stored. */
export const extract = (task: string, path: string) => `{{=${resultOf(task, path)}}}`;

// Strings in JSON bodies. A simple tag inside "…" would put a value's `"` or `\` into the body
// unescaped (invalid JSON at run time, or a different request). Argo's `toJson` (util/expr/env,
// Go json.Marshal) returns the value as a JSON string literal, so the tag goes bare in the body.
/** A string-valued expression as a JSON string literal (bare in a body). */
const asJsonString = (expr: string) => `{{=toJson(${expr})}}`;
/** A string parameter, as a JSON string literal. */
export const paramJson = (name: string) => asJsonString(`workflow.parameters[${quote(name)}]`);
/** The image key of a forEach branch (its `image` input), as a JSON string literal. */
export const INPUT_IMAGE_JSON = asJsonString('inputs.parameters.image');
/** A value extracted from an upstream task's answer, as a JSON string literal. */
export const extractJson = (task: string, path: string) => asJsonString(resultOf(task, path));

/** Single-quoted expr-lang string literal. */
export function quote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Where a condition finds things: the task and path holding a detect step's detections, a parameter's type. */
export interface ConditionContext {
  detectionsOf(stepId: string): { task: string; path: string };
  paramType(name: string): string | undefined;
}

function conditionExpr(c: Condition, ctx: ConditionContext): string {
  if ('and' in c) return `(${c.and.map((x) => conditionExpr(x, ctx)).join(' && ')})`;
  if ('or' in c) return `(${c.or.map((x) => conditionExpr(x, ctx)).join(' || ')})`;
  if ('not' in c) return `!(${conditionExpr(c.not, ctx)})`;
  if ('detections' in c) {
    const { task, path } = ctx.detectionsOf(c.detections);
    const pred: string[] = [];
    if (c.labels) pred.push(`#.label in [${c.labels.map(quote).join(', ')}]`);
    if (c.minConfidence !== undefined) pred.push(`#.confidence >= ${c.minConfidence}`);
    return `count(${resultOf(task, path)}, {${pred.length ? pred.join(' && ') : 'true'}}) ${c.op} ${c.count}`;
  }
  const param = `workflow.parameters[${quote(c.param)}]`;
  if (ctx.paramType(c.param) === 'number') return `asFloat(${param}) ${c.op} ${Number(c.value)}`;
  return `${param} ${c.op as Extract<CompareOp, '==' | '!='>} ${quote(String(c.value))}`;
}

/** A DAG task's `when`: one expression tag that Argo turns into `true` or `false`. */
export const whenExpression = (c: Condition, ctx: ConditionContext) => `{{=${conditionExpr(c, ctx)}}}`;

/**
 * retryStrategy.expression for gateway calls. An HTTP template without a successCondition fails
 * with the message "received non-2xx response code: N" (Argo's agent); network errors and timeouts
 * fail with the Go error text. So: retry unless the last attempt was a 4xx, but do retry 429.
 * Needs lastRetry.message (Argo >= 3.5).
 */
export const RETRY_ON_TRANSIENT =
  "!(lastRetry.message matches 'received non-2xx response code: 4[0-9][0-9]') || lastRetry.message matches 'received non-2xx response code: 429'";

/**
 * The success rule of every HTTP template: Argo's default when successCondition is unset, which is
 * exactly `response.statusCode >= 200 && response.statusCode < 300`. It is left unset on purpose:
 * a custom successCondition replaces the status code in the failure message with the condition's
 * text, and RETRY_ON_TRANSIENT could no longer tell a 4xx from a 5xx.
 */
export const SUCCESS_RULE = 'response.statusCode >= 200 && response.statusCode < 300';

// ---- Recognising the forms (for the local runner and the tests) ----

const NAME = `[A-Za-z][A-Za-z0-9_-]*`;
const TASK = `[a-z0-9][a-z0-9-]*`;
const STR = `'(?:[^'\\\\]|\\\\.)*'`;
const NUM = `-?\\d+(?:\\.\\d+)?(?:e-?\\d+)?`;
const OP = `(?:==|!=|>=|<=|>|<)`;
const PATH = `(?:\\$\\.output\\.key|\\$\\.detections|\\$\\.steps\\[\\d+\\]\\.detections)`;
const JSONPATH = `jsonpath\\(tasks\\['${TASK}'\\]\\.outputs\\.result, '${PATH}'\\)`;
const PRED_PART = `(?:#\\.label in \\[${STR}(?:, ${STR})*\\]|#\\.confidence >= ${NUM})`;
const PRED = `(?:true|${PRED_PART}(?: && ${PRED_PART})?)`;
const ATOMS = [
  `count\\(${JSONPATH}, \\{${PRED}\\}\\) ${OP} \\d+`,
  `workflow\\.parameters\\['${NAME}'\\] (?:==|!=) ${STR}`,
  `asFloat\\(workflow\\.parameters\\['${NAME}'\\]\\) ${OP} ${NUM}`,
].map((a) => new RegExp(a, 'y'));

/** Simple tags the compiler emits (whole tag text). */
export const SIMPLE_TAG_FORMS: readonly RegExp[] = [
  new RegExp(`^\\{\\{workflow\\.parameters\\.${NAME}\\}\\}$`),
  new RegExp(`^\\{\\{inputs\\.parameters\\.(?:body|url|image)\\}\\}$`),
  /^\{\{item\}\}$/,
  new RegExp(`^\\{\\{tasks\\.${TASK}\\.outputs\\.(?:result|parameters\\.result)\\}\\}$`),
  /^\{\{workflow\.(?:name|status)\}\}$/,
];

const JSON_STRING = new RegExp(`^toJson\\((?:workflow\\.parameters\\['${NAME}'\\]|inputs\\.parameters\\.image|${JSONPATH})\\)$`);

/** Whether an expression (the text inside `{{= }}`) is one of the forms above. */
export function isDocumentedExpression(expr: string): boolean {
  if (new RegExp(`^${JSONPATH}$`).test(expr) || JSON_STRING.test(expr)) return true;
  // Recursive descent over: cond := term ((' && ' | ' || ') term)*; term := '!(' cond ')' | '(' cond ')' | atom
  let at = 0;
  const eat = (text: string) => (expr.startsWith(text, at) ? ((at += text.length), true) : false);
  const atom = () =>
    ATOMS.some((re) => {
      re.lastIndex = at;
      const m = re.exec(expr);
      if (m) at += m[0].length;
      return !!m;
    });
  const term = (): boolean => (eat('!(') || eat('(') ? cond() && eat(')') : atom());
  const cond = (): boolean => {
    if (!term()) return false;
    while (eat(' && ') || eat(' || ')) if (!term()) return false;
    return true;
  };
  return cond() && at === expr.length;
}

/** Every `{{…}}` tag in a text (first "}}" ends a tag, as in Argo). */
export const tagsIn = (text: string): string[] => text.match(/\{\{.*?\}\}/g) ?? [];

/** Whether a whole tag is one the compiler emits. */
export function isDocumentedTag(tag: string): boolean {
  if (tag.startsWith('{{=')) return isDocumentedExpression(tag.slice(3, -2));
  return SIMPLE_TAG_FORMS.some((r) => r.test(tag));
}
