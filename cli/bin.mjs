#!/usr/bin/env node
// The `imageflow` bin. The CLI is TypeScript and the repository has no build step, so
// `npx imageflow` from a fresh clone (after `npm ci`) must run cli/main.ts directly: this shim
// registers tsx's ESM loader in this process, then imports the entry. Kept as plain JS because
// Node cannot execute a .ts bin by itself.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
const code = await main(process.argv.slice(2));
// Let stdout drain, then leave even if a library keeps a socket open.
process.stdout.write('', () => process.exit(code));
