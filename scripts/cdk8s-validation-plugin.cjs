// A local cdk8s validation plugin (cdk8s.yaml `validations:`), so `cdk8s synth` itself fails
// when a synthesized manifest is invalid. cdk8s-cli loads plugins with require(), hence CommonJS.
// The rules live in validate-manifests.ts (shared with the tests); it runs in a child `node
// --import tsx` because tsx's in-process API cannot load TypeScript from a CommonJS caller here.
'use strict';
const path = require('node:path');
const { execFileSync } = require('node:child_process');

class ImageflowManifestValidation {
  constructor(properties = {}) {
    this.properties = properties;
  }

  async validate(context) {
    const script = path.join(__dirname, 'validate-manifests.ts');
    const out = execFileSync(process.execPath, ['--import', 'tsx', script, '--json', ...context.manifests], {
      cwd: path.join(__dirname, '..'),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const { objects, violations } = JSON.parse(out);
    context.logger.log(`imageflow: validated ${objects} objects in ${context.manifests.length} manifest file(s)`);
    for (const v of violations) {
      context.report.addViolation({
        ruleName: v.rule,
        recommendation: v.message,
        fix: 'Change the construct props (or the construct) that produce this object, then run `npm run synth` again.',
        violatingResources: [{ resourceName: v.resource, locations: [], manifestPath: v.file }],
      });
    }
    context.report.submit(violations.length === 0 ? 'success' : 'failure', { objects: String(objects) });
  }
}

module.exports = { ImageflowManifestValidation };
