// A TCP proxy on loopback that can hold back the server's answers: makes a real backend (here
// the Triton stand-in) slow from its client's point of view without touching the backend.
import { createConnection, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface DelayProxy {
  readonly port: number;
  /** Delay added to every chunk flowing back from the target; 0 = pass-through. */
  delayMs: number;
  close(): Promise<void>;
}

export async function startDelayProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const proxy: DelayProxy = { port: 0, delayMs: 0, close: async () => {} };
  const server = createServer((client) => {
    const upstream = createConnection({ port: targetPort, host: targetHost });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => (client.destroy(), upstream.destroy()));
    }
    client.pipe(upstream);
    // Chunks keep their order: each waits for its own due time, and never before the previous.
    let last = 0;
    upstream.on('data', (chunk: Buffer) => {
      const due = Math.max(Date.now() + proxy.delayMs, last);
      last = due;
      setTimeout(() => client.destroyed || client.write(chunk), due - Date.now());
    });
    upstream.on('end', () => setTimeout(() => client.end(), Math.max(0, last - Date.now())));
    client.on('end', () => upstream.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  Object.assign(proxy, {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
  return proxy;
}
