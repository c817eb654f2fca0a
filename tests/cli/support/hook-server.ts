// A real HTTP server standing in for a notification webhook (exit handlers): records each call's
// JSON body and answers with the status the test chooses.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HookServer {
  readonly url: string;
  readonly calls: unknown[];
  /** Status code answered from now on. */
  status: number;
  close(): Promise<void>;
}

export async function startHookServer(): Promise<HookServer> {
  const calls: unknown[] = [];
  const hook = { status: 200 } as { status: number };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      try {
        calls.push(JSON.parse(body));
      } catch {
        calls.push(body);
      }
      res.writeHead(hook.status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return Object.assign(hook, {
    url: `http://127.0.0.1:${port}/hooks/imageflow`,
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
