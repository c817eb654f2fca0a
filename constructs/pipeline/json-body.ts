// Building a JSON request body that contains Argo template tags. Tags that yield JSON (numbers,
// booleans, lists, and strings through `{{=toJson(…)}}`, see expressions.ts) go bare; quoted tags
// are only for values that can never hold `"` or `\` (workflow name, status), so that after Argo
// substitutes them the body is JSON again.
export class Tag {
  constructor(
    readonly text: string,
    /** Bare tags stand for a number, boolean or JSON list; quoted tags for a string. */
    readonly bare: boolean,
  ) {}
}
export const quotedTag = (text: string) => new Tag(text, false);
export const bareTag = (text: string) => new Tag(text, true);

/** JSON text of `value`, with each Tag written as its template text. */
export function renderBody(value: unknown): string {
  const tags: Tag[] = [];
  const json = JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Tag) {
      tags.push(v);
      return `@@tag${tags.length - 1}@@`;
    }
    return v;
  });
  return json.replace(/"@@tag(\d+)@@"/g, (_m, i: string) => {
    const tag = tags[Number(i)];
    return tag.bare ? tag.text : `"${tag.text}"`;
  });
}
