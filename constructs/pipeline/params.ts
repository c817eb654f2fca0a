// Parameter declarations: what a pipeline takes at submit time. Each declaration knows the typed
// handle the pipeline body receives for it.
import type { ParamDecl } from './document.js';
import { ImageListRef, ImageRef, Param } from './refs.js';

interface Described {
  readonly description?: string;
}

/** A declared parameter; `Ref` is the handle type the pipeline body gets. */
export interface ParamSpec<Ref> {
  readonly decl: ParamDecl;
  readonly toRef: (name: string) => Ref;
}

const spec = <Ref>(decl: ParamDecl, toRef: (name: string) => Ref): ParamSpec<Ref> => ({ decl, toRef });
const clean = (decl: ParamDecl): ParamDecl =>
  Object.fromEntries(Object.entries(decl).filter(([, v]) => v !== undefined)) as ParamDecl;

export const param = {
  /** An object key in the gateway's storage: an image input. */
  objectKey: (o: Described & { readonly default?: string } = {}) =>
    spec(clean({ type: 'objectKey', ...o }), (name) => new ImageRef({ $param: name })),
  /** A list of object keys, for forEach (fan-out). Passed to Argo as a JSON array. */
  objectKeys: (o: Described & { readonly default?: readonly string[] } = {}) =>
    spec(clean({ type: 'objectKeys', description: o.description, default: o.default && [...o.default] }), (name) => new ImageListRef(name)),
  string: (o: Described & { readonly default?: string } = {}) =>
    spec(clean({ type: 'string', ...o }), (name) => new Param<string>(name)),
  number: (o: Described & { readonly default?: number } = {}) =>
    spec(clean({ type: 'number', ...o }), (name) => new Param<number>(name)),
  boolean: (o: Described & { readonly default?: boolean } = {}) =>
    spec(clean({ type: 'boolean', ...o }), (name) => new Param<boolean>(name)),
  /** One of a fixed set of strings; fits gateway options with the same literal values (e.g. fit). */
  enum: <const V extends string>(values: readonly V[], o: Described & { readonly default?: NoInfer<V> } = {}) =>
    spec(clean({ type: 'enum', values: [...values], ...o }), (name) => new Param<V>(name)),
};

export type ParamSpecs = Record<string, ParamSpec<unknown>>;
export type ParamRefs<P extends ParamSpecs> = { readonly [K in keyof P]: P[K] extends ParamSpec<infer R> ? R : never };
