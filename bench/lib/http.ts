// A small keep-alive HTTP client on node:http (fetch/undici costs more per call than the hops
// being measured). Every request has a timeout; a non-2xx answer is an error carrying the body.
import http from 'node:http';

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export function request(url: string, body: Buffer | string | undefined, headers: Record<string, string> = {}, timeoutMs = 120_000, method = body === undefined ? 'GET' : 'POST'): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const answer = { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
        if (answer.status >= 200 && answer.status < 300) resolve(answer);
        else reject(new Error(`${method} ${url} → ${answer.status}: ${answer.body.toString('utf8').slice(0, 300)}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export async function postJson<T = unknown>(url: string, value: unknown, headers: Record<string, string> = {}): Promise<T> {
  const res = await request(url, JSON.stringify(value), { 'content-type': 'application/json', ...headers });
  return JSON.parse(res.body.toString('utf8')) as T;
}

export function postImage(url: string, data: Buffer, contentType = 'image/jpeg', headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return request(url, data, { 'content-type': contentType, ...headers });
}

export function closeHttp(): void {
  agent.destroy();
}
