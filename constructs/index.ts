// The public surface of the cdk8s constructs; `main.ts` and the pipeline compiler import from here.
export * from './container-image.js';
export * from './detection-service.js';
export * from './filter-service.js';
export * from './gateway.js';
export * from './grpc-service.js';
export * from './grpc-tls-certificate.js';
export * from './grpc-tls.js';
export * from './hardened-workload.js';
export * from './imageflow-platform.js';
export * from './invariants.js';
export * from './minio-store.js';
export * from './namespace-config.js';
export * from './network-policies.js';
export * from './resize-service.js';
export * from './triton-server.js';
export * from './workflow-rbac.js';
export * from './workload-probe.js';
