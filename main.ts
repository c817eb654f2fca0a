// The cdk8s app: `npm run synth` writes one YAML file per chart into dist/.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { App, Chart } from 'cdk8s';
import { ImageFlowPlatform } from './constructs/index.js';

// Only YAML in dist/ (no construct-metadata.json), so `kubectl apply -f dist/` and the staleness check see manifests only.
const app = new App({ outdir: process.env.CDK8S_OUTDIR ?? 'dist', recordConstructMetadata: false });
// cdk8s never deletes files: drop the last run's manifests so a removed chart leaves nothing stale.
for (const f of existsSync(app.outdir) ? readdirSync(app.outdir, { withFileTypes: true }) : []) if (f.isFile() && f.name.endsWith('.k8s.yaml')) rmSync(join(app.outdir, f.name));

const platformChart = new Chart(app, 'imageflow-platform', { disableResourceNameHashes: true });
const platform = new ImageFlowPlatform(platformChart, 'platform');

// ── Pipeline charts ───────────────────────────────────────────────────────────────────────────
// The lead adds one chart (or WorkflowTemplate) per pipeline here, compiled against
// `platform.namespace`, `platform.gatewayUrl`, `platform.workflowServiceAccountName` and
// `platform.gatewayApiKeySecretName` / `platform.gatewayApiKeySecretKey`.
// ──────────────────────────────────────────────────────────────────────────────────────────────

app.synth();
