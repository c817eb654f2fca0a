// The command itself: help on every command with the exit-code table, usage errors exit 2, the
// bin works as `node cli/bin.mjs`, and `lint` runs the compiler checks and schema validation.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageflow, imageflowProcess } from './support/run-cli.js';

const COMMANDS = ['up', 'run', 'submit', 'smoke', 'lint', 'graph'];

describe('imageflow', () => {
  it('--help lists every command and the exit codes (the real bin, as a process)', async () => {
    const r = await imageflowProcess(['--help']);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    expect(r.stdout).toContain('Exit codes:\n  0  success');
    expect(r.stdout).toContain('3  cluster or connectivity error');
  });

  it.each(COMMANDS)('%s --help documents the command and the exit codes', async (command) => {
    const r = await imageflow([command, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: imageflow ${command}`);
    expect(r.stdout).toContain('Exit codes:');
  });

  it('usage errors exit 2: unknown command, unknown option, unknown pipeline, bad format', async () => {
    expect((await imageflow(['frobnicate'])).code).toBe(2);
    expect((await imageflow(['graph', 'privacy-blur', '--colour'])).code).toBe(2);
    const unknown = await imageflow(['graph', 'no-such-pipeline']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown pipeline "no-such-pipeline"; known: resize-detect-filter, thumbnails, privacy-blur, batch-thumbnails, watermark-check');
    expect((await imageflow(['graph', 'privacy-blur', '-f', 'gif'])).code).toBe(2);
    const noFile = await imageflow(['run', 'thumbnails', '-i', '/nonexistent/x.jpg']);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toContain('--input /nonexistent/x.jpg: no such file');
  });

  it('graph prints mermaid by default', async () => {
    const r = await imageflow(['graph', 'thumbnails']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('flowchart TD');
    expect(r.stdout).toContain('small["small [resize]<br/>width=128, height=128, fit={fit}, output=format:webp quality:80');
  });

  it('lint: every example passes the checks and both Argo schemas', async () => {
    const r = await imageflow(['lint']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('5 pipeline(s) linted');
    expect(r.stdout).toMatch(/schema checks: .*@kubernetes-models\/argo-workflows/);
    expect(r.stdout).toContain('0 error(s)');
    // The schema validator compiles Argo's CRD schemas (2.7 MB each) on first use: ~15 s of CPU.
  }, 180_000);

  it('lint: a broken document exits 1 with every finding, naming the step and field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'imageflow-lint-'));
    const file = join(dir, 'broken.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'Broken_Name',
        params: { image: { type: 'objectKey' } },
        steps: [
          { id: 'a', op: 'resize', params: { input: { $param: 'image' }, width: 100 } },
          { id: 'b', op: 'filter', params: { input: { $step: 'nope' }, ops: [{ type: 'blur' }] } },
        ],
      }),
    );
    const r = await imageflow(['lint', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('field "name": must be a DNS-1123 label');
    expect(r.stdout).toMatch(/step "b".*nope/);
  });
});
