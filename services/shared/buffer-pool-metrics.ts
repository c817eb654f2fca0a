// A buffer pool's state at scrape time, for the gateway's and the services' registries alike.
import { Counter, Gauge, type Registry } from 'prom-client';

export function observeBufferPool(
  registry: Registry,
  prefix: string,
  /** Plural, e.g. 'request bodies'. */
  what: string,
  pool: { readonly retainedBytes: number; readonly reuses: number },
): void {
  new Gauge({
    name: `${prefix}_retained_bytes`,
    help: `Memory kept for reuse by ${what}`,
    registers: [registry],
    collect() {
      this.set(pool.retainedBytes);
    },
  });
  new Counter({
    name: `${prefix}_reuses_total`,
    help: `${what} read into reused memory (count)`,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(pool.reuses);
    },
  });
}
