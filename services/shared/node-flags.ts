// V8 flags every service process starts with. The local launcher passes them; the Dockerfile's
// ENTRYPOINT repeats them (they cannot go in NODE_OPTIONS) and a test keeps the two equal.
//
// --initial-old-space-size=128: a service's live heap is ~26 MB, and V8 kept its old-generation
// limit so close to that that it started incremental marking every few requests: 67 full
// mark-compacts for 300 raw 2 MP resizes through the gateway, whose CPU went mostly to marking.
// Starting the limit at 128 MB: 9 mark-compacts, and the gateway's CPU per request halves
// (BENCHMARKS.md, finding 16). It raises a threshold only; nothing is reserved up front.
export const SERVICE_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=128'];
