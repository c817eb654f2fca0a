// The cdk8s app: `npm run synth` writes one YAML file per chart into dist/: the platform
// (dist/imageflow-platform.k8s.yaml) and every pipeline's WorkflowTemplate (dist/pipelines.k8s.yaml).
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { App, Chart } from 'cdk8s';
import { ImageFlowPlatform } from './constructs/index.js';
import { addPipelines } from './constructs/pipeline/index.js';
import { pipelines } from './pipelines/index.js';

// Only YAML in dist/ (no construct-metadata.json), so `kubectl apply -f dist/` and the staleness check see manifests only.
const app = new App({ outdir: process.env.CDK8S_OUTDIR ?? 'dist', recordConstructMetadata: false });
// cdk8s never deletes files: drop the last run's manifests so a removed chart leaves nothing stale.
for (const f of existsSync(app.outdir) ? readdirSync(app.outdir, { withFileTypes: true }) : []) if (f.isFile() && f.name.endsWith('.k8s.yaml')) rmSync(join(app.outdir, f.name));

const platformChart = new Chart(app, 'imageflow-platform', { disableResourceNameHashes: true });
// A self-contained cluster by default: an in-cluster MinIO holds the images. To use your own
// S3, replace `minio: true` with `s3: { endpoint: 'https://s3.example.com' }`.
const platform = new ImageFlowPlatform(platformChart, 'platform', { minio: true });

// Every pipeline in pipelines/ in one chart (one chart each would make synthesis quadratic),
// calling the gateway with the key the workflow Secret holds: the gateway reads the key list under `keys`; Argo sends `authorization` verbatim, so
// it holds "Bearer <one of the keys>" (see the README's Deploying section).
addPipelines(app, pipelines, {
  namespace: platform.namespace,
  gatewayUrl: platform.gatewayUrl,
  serviceAccountName: platform.workflowServiceAccountName,
  apiKey: { secretName: platform.gatewayApiKeySecretName, key: 'authorization' },
});

app.synth();
