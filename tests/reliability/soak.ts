// The long soak, run by hand (not part of npm test):
//   npx tsx tests/reliability/soak.ts [--minutes 5] [--rate 12] [--no-detect] [--saturation-seconds 30] [--out file.json]
// Prints progress, then the Markdown tables that go into RELIABILITY.md; exits 1 when a sustained
// request failed, a process went over its Deployment memory limit, or saturation gave a 5xx
// other than 503-with-Retry-After.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runSoak, soakMarkdown } from './support/soak-runner.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    rate: { type: 'string', default: '12' },
    'no-detect': { type: 'boolean', default: false },
    'saturation-seconds': { type: 'string', default: '30' },
    'saturation-concurrency': { type: 'string', default: '48' },
    out: { type: 'string' },
  },
});

const minutes = Number(values.minutes);
const report = await runSoak({
  durationMs: minutes * 60_000,
  ratePerSec: Number(values.rate),
  warmupMs: Math.min(60_000, minutes * 60_000 * 0.2),
  sampleEveryMs: 5_000,
  saturationMs: Number(values['saturation-seconds']) * 1000,
  saturationConcurrency: Number(values['saturation-concurrency']),
  detect: !values['no-detect'],
  log: (line) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`),
});
if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 2));
process.stdout.write(`${soakMarkdown(report)}\n\nerror samples: ${JSON.stringify(report.sustained.errorSamples)}\nservice codes: ${JSON.stringify(report.serviceCodes)}\n`);
if (report.saturation?.unexpected.length) process.stdout.write(`saturation unexpected: ${JSON.stringify(report.saturation.unexpected)}\n`);
const overLimit = report.memory.filter((m) => Math.max(m.maxMiB, m.saturationMaxMiB ?? 0) > m.limitMiB);
const failed = report.sustained.errors > 0 || overLimit.length > 0 || (report.saturation?.unexpected.length ?? 0) > 0;
process.exit(failed ? 1 : 0);
