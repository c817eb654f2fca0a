// A small evaluator for the expr-lang subset the compiler emits (see
// constructs/pipeline/expressions.ts): literals, member access, `!`, `&&`, `||`, comparisons,
// `in [..]`, `matches`, and the functions jsonpath, count (with a `{ #... }` predicate), asFloat,
// asInt and toJson. Anything else is refused with an UnsupportedError naming the field: a local
// run must never quietly differ from what Argo would do.
import { jsonpath } from './jsonpath.js';
import { UnsupportedError } from './errors.js';

type Token =
  | { kind: 'num'; value: number }
  | { kind: 'str'; value: string }
  | { kind: 'id'; value: string }
  | { kind: 'op'; value: string };

const OPERATORS = ['&&', '||', '==', '!=', '>=', '<=', '>', '<', '!', '(', ')', '[', ']', '{', '}', ',', '.', '#', '-'];

function tokenize(text: string, field: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?/.exec(text.slice(i))!;
      tokens.push({ kind: 'num', value: Number(m[0]) });
      i += m[0].length;
      continue;
    }
    if (c === "'" || c === '"') {
      let value = '';
      let j = i + 1;
      for (; j < text.length && text[j] !== c; j++) {
        if (text[j] === '\\') {
          j++;
          const e = text[j];
          value += e === 'n' ? '\n' : e === 't' ? '\t' : e;
        } else value += text[j];
      }
      if (j >= text.length) throw new UnsupportedError(field, `unterminated string in expression: ${text}`);
      tokens.push({ kind: 'str', value });
      i = j + 1;
      continue;
    }
    if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(text.slice(i))!;
      tokens.push({ kind: 'id', value: m[0] });
      i += m[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (!op) throw new UnsupportedError(field, `unexpected character "${c}" in expression: ${text}`);
    tokens.push({ kind: 'op', value: op });
    i += op.length;
  }
  return tokens;
}

/** The parsed form; closures keep their body unevaluated until count() calls them. */
type Node =
  | { type: 'lit'; value: unknown }
  | { type: 'ident'; name: string }
  | { type: 'closureArg' }
  | { type: 'member'; object: Node; property: string }
  | { type: 'call'; name: string; args: Node[] }
  | { type: 'array'; items: Node[] }
  | { type: 'closure'; body: Node }
  | { type: 'unary'; op: '!' | '-'; operand: Node }
  | { type: 'binary'; op: string; left: Node; right: Node };

// Precedence, loosest first, as in expr-lang.
const BINARY_LEVELS: string[][] = [['||', 'or'], ['&&', 'and'], ['==', '!=', '<', '<=', '>', '>=', 'in', 'matches']];

class Parser {
  private pos = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly field: string,
    private readonly source: string,
  ) {}

  parse(): Node {
    const node = this.binary(0);
    if (this.pos < this.tokens.length) this.fail(`unexpected "${this.tokens[this.pos].value}"`);
    return node;
  }

  private fail(detail: string): never {
    throw new UnsupportedError(this.field, `${detail} in expression: ${this.source}`);
  }

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private isOp(value: string): boolean {
    const t = this.peek();
    return !!t && (t.kind === 'op' || t.kind === 'id') && t.value === value;
  }

  private expect(value: string): void {
    if (!this.isOp(value)) this.fail(`expected "${value}"`);
    this.pos++;
  }

  private binary(level: number): Node {
    if (level >= BINARY_LEVELS.length) return this.unary();
    let left = this.binary(level + 1);
    for (;;) {
      const t = this.peek();
      if (!t || !BINARY_LEVELS[level].includes(String(t.value))) return left;
      this.pos++;
      const op = t.value === 'or' ? '||' : t.value === 'and' ? '&&' : String(t.value);
      left = { type: 'binary', op, left, right: this.binary(level + 1) };
    }
  }

  private unary(): Node {
    if (this.isOp('!') || this.isOp('not')) {
      this.pos++;
      return { type: 'unary', op: '!', operand: this.unary() };
    }
    if (this.isOp('-')) {
      this.pos++;
      return { type: 'unary', op: '-', operand: this.unary() };
    }
    return this.postfix(this.primary());
  }

  private postfix(node: Node): Node {
    for (;;) {
      if (this.isOp('.')) {
        this.pos++;
        const t = this.peek();
        if (!t || t.kind !== 'id') this.fail('expected a property name after "."');
        this.pos++;
        node = { type: 'member', object: node, property: t.value };
        if (this.isOp('(')) this.fail(`function ${describe(node)}() is not supported by the local runner (supported: ${FUNCTIONS.join(', ')})`);
      } else if (this.isOp('[')) {
        this.pos++;
        const t = this.peek();
        if (!t || (t.kind !== 'str' && t.kind !== 'num')) this.fail('only literal indexes like [\'name\'] or [0] are supported');
        this.pos++;
        this.expect(']');
        node = { type: 'member', object: node, property: String(t.value) };
      } else return node;
    }
  }

  private primary(): Node {
    const t = this.peek();
    if (!t) this.fail('unexpected end');
    this.pos++;
    if (t.kind === 'num' || t.kind === 'str') return { type: 'lit', value: t.value };
    if (t.kind === 'id') {
      if (t.value === 'true' || t.value === 'false') return { type: 'lit', value: t.value === 'true' };
      if (t.value === 'nil') return { type: 'lit', value: null };
      if (this.isOp('(')) {
        this.pos++;
        const args: Node[] = [];
        while (!this.isOp(')')) {
          args.push(this.isOp('{') ? this.closure() : this.binary(0));
          if (!this.isOp(')')) this.expect(',');
        }
        this.pos++;
        return { type: 'call', name: t.value, args };
      }
      return { type: 'ident', name: t.value };
    }
    if (t.value === '#') return { type: 'closureArg' };
    if (t.value === '(') {
      const inner = this.binary(0);
      this.expect(')');
      return inner;
    }
    if (t.value === '[') {
      const items: Node[] = [];
      while (!this.isOp(']')) {
        items.push(this.binary(0));
        if (!this.isOp(']')) this.expect(',');
      }
      this.pos++;
      return { type: 'array', items };
    }
    this.fail(`unexpected "${t.value}"`);
  }

  private closure(): Node {
    this.expect('{');
    const body = this.binary(0);
    this.expect('}');
    return { type: 'closure', body };
  }
}

/** `a.b.c` of a member chain, for messages. */
function describe(n: Node): string {
  if (n.type === 'ident') return n.name;
  if (n.type === 'member') return `${describe(n.object)}.${n.property}`;
  return '…';
}

/** Variables an expression may read, e.g. { workflow: {...}, tasks: {...} }. */
export type Scope = Record<string, unknown>;

const FUNCTIONS = ['jsonpath', 'count', 'asFloat', 'asInt', 'toJson'] as const;

export class Expression {
  private constructor(
    private readonly root: Node,
    readonly source: string,
    private readonly field: string,
  ) {}

  /** Parses `source`; refuses syntax outside the supported subset, naming `field`. */
  static parse(source: string, field: string): Expression {
    const root = new Parser(tokenize(source, field), field, source).parse();
    const check = (n: Node): void => {
      if (n.type === 'call') {
        if (!(FUNCTIONS as readonly string[]).includes(n.name))
          throw new UnsupportedError(field, `function ${n.name}() is not supported by the local runner (supported: ${FUNCTIONS.join(', ')}) in expression: ${source}`);
        n.args.forEach(check);
      } else if (n.type === 'member') check(n.object);
      else if (n.type === 'array') n.items.forEach(check);
      else if (n.type === 'closure') check(n.body);
      else if (n.type === 'unary') check(n.operand);
      else if (n.type === 'binary') {
        check(n.left);
        check(n.right);
      }
    };
    check(root);
    return new Expression(root, source, field);
  }

  evaluate(scope: Scope): unknown {
    return this.eval(this.root, scope, undefined);
  }

  private fail(detail: string): never {
    throw new UnsupportedError(this.field, `${detail} in expression: ${this.source}`);
  }

  private eval(n: Node, scope: Scope, item: unknown): unknown {
    switch (n.type) {
      case 'lit':
        return n.value;
      case 'closureArg':
        return item;
      case 'ident':
        if (!(n.name in scope)) this.fail(`unknown variable "${n.name}"`);
        return scope[n.name];
      case 'member': {
        const obj = this.eval(n.object, scope, item);
        if (obj === null || obj === undefined) this.fail(`cannot read "${n.property}" of nothing`);
        if (typeof obj !== 'object') this.fail(`cannot read "${n.property}" of a ${typeof obj}`);
        const value = (obj as Record<string, unknown>)[n.property];
        if (value === undefined) throw new MissingValueError(this.field, `"${n.property}" is not available (yet) in expression: ${this.source}`);
        return value;
      }
      case 'array':
        return n.items.map((x) => this.eval(x, scope, item));
      case 'closure':
        return this.fail('a predicate { ... } is only allowed as the second argument of count()');
      case 'unary': {
        const v = this.eval(n.operand, scope, item);
        if (n.op === '-') return -this.number(v);
        return !this.bool(v);
      }
      case 'binary':
        return this.binary(n, scope, item);
      case 'call':
        return this.call(n, scope, item);
    }
  }

  private binary(n: Extract<Node, { type: 'binary' }>, scope: Scope, item: unknown): unknown {
    if (n.op === '&&') return this.bool(this.eval(n.left, scope, item)) && this.bool(this.eval(n.right, scope, item));
    if (n.op === '||') return this.bool(this.eval(n.left, scope, item)) || this.bool(this.eval(n.right, scope, item));
    const left = this.eval(n.left, scope, item);
    const right = this.eval(n.right, scope, item);
    switch (n.op) {
      case '==':
        return deepEqual(left, right);
      case '!=':
        return !deepEqual(left, right);
      case 'in':
        if (!Array.isArray(right)) this.fail('"in" needs a list on its right');
        return right.some((r) => deepEqual(left, r));
      case 'matches':
        if (typeof left !== 'string' || typeof right !== 'string') this.fail('"matches" needs a string and a pattern');
        // Go's RE2 and JavaScript agree on the simple patterns the compiler emits; unanchored in both.
        return new RegExp(right).test(left);
      default: {
        // expr-lang refuses comparing a string with a number; so do we.
        if (typeof left === 'string' && typeof right === 'string') return compare(n.op, left, right);
        return compare(n.op, this.number(left), this.number(right));
      }
    }
  }

  private call(n: Extract<Node, { type: 'call' }>, scope: Scope, item: unknown): unknown {
    const arg = (i: number) => {
      const a = n.args[i];
      if (!a) this.fail(`${n.name}() needs ${i + 1} argument(s)`);
      return this.eval(a, scope, item);
    };
    switch (n.name) {
      case 'jsonpath': {
        const doc = arg(0);
        const path = arg(1);
        if (typeof path !== 'string') this.fail('jsonpath() needs a path string');
        const data = typeof doc === 'string' ? parseJson(doc, this) : doc;
        return jsonpath(data, path, this.field);
      }
      case 'count': {
        const list = arg(0);
        if (!Array.isArray(list)) this.fail('count() needs a list as its first argument');
        const pred = n.args[1];
        if (!pred || pred.type !== 'closure') this.fail('count() needs a predicate { ... } as its second argument');
        return list.filter((x) => this.bool(this.eval(pred.body, scope, x))).length;
      }
      case 'asFloat': {
        const v = arg(0);
        const num = typeof v === 'number' ? v : Number.parseFloat(String(v));
        if (Number.isNaN(num)) this.fail(`asFloat(${JSON.stringify(v)}) is not a number`);
        return num;
      }
      case 'asInt': {
        const v = arg(0);
        const num = typeof v === 'number' ? Math.trunc(v) : Number.parseInt(String(v), 10);
        if (Number.isNaN(num)) this.fail(`asInt(${JSON.stringify(v)}) is not an integer`);
        return num;
      }
      case 'toJson':
        return JSON.stringify(arg(0));
      default:
        return this.fail(`function ${n.name}() is not supported`);
    }
  }

  private bool(v: unknown): boolean {
    if (typeof v !== 'boolean') this.fail(`expected true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  private number(v: unknown): number {
    if (typeof v !== 'number') this.fail(`expected a number, got ${JSON.stringify(v)} (use asFloat() for parameters)`);
    return v;
  }
}

/** A value the expression reads is not there, e.g. the result of a task that was skipped. */
export class MissingValueError extends UnsupportedError {}

function parseJson(text: string, e: { source: string }): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`jsonpath(): the value is not JSON (${text.slice(0, 80)}) in expression: ${e.source}`);
  }
}

function compare(op: string, a: number | string, b: number | string): boolean {
  switch (op) {
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
  }
  throw new Error(`unknown operator ${op}`);
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
