// Argo schema validation without synthesizing. The DSL's own suite already has a validator that
// checks both schema sources (@kubernetes-models/argo-workflows, and ../shared/argo's schema.json
// and CRD openAPIV3Schema when present); the CLI reuses it through this one import so that, when
// it moves out of tests/, only this line changes.
export { validateArgoObject } from '../../tests/pipeline/argo-schema.js';
