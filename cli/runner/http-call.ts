// One attempt of an Argo HTTP template, as Argo's agent makes it: the request with a client
// timeout of timeoutSeconds, success by successCondition (or any 2xx when unset), the response body
// as the node's `outputs.result`, and failure messages worded as the agent words them, because
// retryStrategy.expression matches on them.
import { Expression } from './expr.js';

export interface HttpRequestSpec {
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
  readonly timeoutSeconds: number;
  readonly successCondition?: string;
  /** Where the template is, for error messages. */
  readonly field: string;
}

export type HttpOutcome =
  | { readonly ok: true; readonly statusCode: number; readonly body: string }
  | { readonly ok: false; readonly statusCode?: number; readonly body?: string; readonly message: string };

/** Argo's HTTP template default timeout when timeoutSeconds is unset. */
export const DEFAULT_HTTP_TIMEOUT_SECONDS = 30;

export async function callHttp(req: HttpRequestSpec): Promise<HttpOutcome> {
  const verb = req.method.charAt(0) + req.method.slice(1).toLowerCase();
  let res: Response;
  let body: string;
  try {
    const signal = AbortSignal.timeout(req.timeoutSeconds * 1000);
    res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, signal });
    body = await res.text();
  } catch (err) {
    return { ok: false, message: `${verb} "${req.url}": ${goErrorText(err, req.url)}` };
  }
  if (req.successCondition) {
    const condition = Expression.parse(req.successCondition, `${req.field}.successCondition`);
    const headers = Object.fromEntries([...res.headers.entries()].map(([k, v]) => [k, [v]]));
    const ok = condition.evaluate({ response: { statusCode: res.status, body, headers } });
    if (ok !== true)
      return { ok: false, statusCode: res.status, body, message: `successCondition '${req.successCondition}' evaluated false (response code: ${res.status})` };
    return { ok: true, statusCode: res.status, body };
  }
  if (res.status < 200 || res.status >= 300)
    return { ok: false, statusCode: res.status, body, message: `received non-2xx response code: ${res.status}` };
  return { ok: true, statusCode: res.status, body };
}

/** Go's net/http error text for the failures a local run meets. */
function goErrorText(err: unknown, url: string): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError')
    return 'context deadline exceeded (Client.Timeout exceeded while awaiting headers)';
  const host = (() => {
    try {
      const u = new URL(url);
      return `${u.hostname}:${u.port || (u.protocol === 'https:' ? 443 : 80)}`;
    } catch {
      return url;
    }
  })();
  switch (e.cause?.code) {
    case 'ECONNREFUSED':
      return `dial tcp ${host}: connect: connection refused`;
    case 'ENOTFOUND':
      return `dial tcp: lookup ${host.split(':')[0]}: no such host`;
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'EOF';
    default:
      return e.cause?.message ?? e.message ?? String(err);
  }
}
