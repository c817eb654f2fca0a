// Argo template tags: `{{simple.name}}` substitution and `{{=expression}}` evaluation, limited to
// the tags the compiler emits (constructs/pipeline/expressions.ts). A simple tag that does not
// resolve is an error, as in Argo ("failed to resolve {{...}}").
import { Expression, MissingValueError, type Scope } from './expr.js';
import { UnsupportedError } from './errors.js';

/** What a tag can see at one point of the run. */
export interface TagScope {
  /** Flat names as Argo uses them: `workflow.parameters.width`, `inputs.parameters.body`, `item`, `tasks.x.outputs.result`. */
  readonly simple: ReadonlyMap<string, string>;
  /** The same values as nested objects for expressions: workflow.parameters['x'], tasks['t'].outputs.result. */
  readonly expr: Scope;
}

const SIMPLE_FORMS = [
  /^workflow\.parameters\.[A-Za-z0-9_-]+$/,
  /^inputs\.parameters\.[A-Za-z0-9_-]+$/,
  /^item$/,
  /^tasks\.[a-z0-9-]+\.outputs\.result$/,
  /^tasks\.[a-z0-9-]+\.outputs\.parameters\.[A-Za-z0-9_-]+$/,
  /^workflow\.(name|status)$/,
];

/** A tag's text between `{{` and `}}` (expression tags may contain `}` inside `{...}` predicates). */
function findTags(text: string): { start: number; end: number; inner: string }[] {
  const tags: { start: number; end: number; inner: string }[] = [];
  let i = 0;
  while ((i = text.indexOf('{{', i)) !== -1) {
    let depth = 0;
    let j = i + 2;
    let quote: string | undefined;
    for (; j < text.length; j++) {
      const c = text[j];
      if (quote) {
        if (c === '\\') j++;
        else if (c === quote) quote = undefined;
      } else if (c === "'" || c === '"') quote = c;
      else if (c === '{') depth++;
      else if (c === '}') {
        if (depth === 0 && text[j + 1] === '}') break;
        depth--;
      }
    }
    if (j >= text.length) return tags;
    tags.push({ start: i, end: j + 2, inner: text.slice(i + 2, j) });
    i = j + 2;
  }
  return tags;
}

/** Does `text` contain any template tag? */
export const hasTags = (text: string) => findTags(text).length > 0;

/** Expression text → parsed expression; templates are evaluated many times (retries, fan-out). */
const parsed = new Map<string, Expression>();

/** Replaces every tag of `text`; `field` names where the text came from, for error messages. */
export function substitute(text: string, scope: TagScope, field: string): string {
  const tags = findTags(text);
  if (!tags.length) return text;
  let out = '';
  let last = 0;
  for (const tag of tags) {
    out += text.slice(last, tag.start) + resolveTag(tag.inner, scope, field);
    last = tag.end;
  }
  return out + text.slice(last);
}

function resolveTag(inner: string, scope: TagScope, field: string): string {
  if (inner.startsWith('=')) {
    const source = inner.slice(1).trim();
    const key = `${field}\u0000${source}`;
    let expression = parsed.get(key);
    if (!expression) parsed.set(key, (expression = Expression.parse(source, field)));
    const value = expression.evaluate(scope.expr);
    if (value === undefined) throw new MissingValueError(field, `expression evaluated to nothing: ${source}`);
    return typeof value === 'string' ? value : JSON.stringify(value);
  }
  const name = inner.trim();
  if (!SIMPLE_FORMS.some((re) => re.test(name)))
    throw new UnsupportedError(field, `the tag {{${name}}} is not one the local runner supports (see constructs/pipeline/expressions.ts)`);
  const value = scope.simple.get(name);
  if (value === undefined) throw new MissingValueError(field, `failed to resolve {{${name}}}`);
  return value;
}
