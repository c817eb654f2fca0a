// `imageflow up` as a process: prints the endpoints when ready, leaves a state file that `run` and
// `smoke` use without being told where the gateway is, and stops everything on Ctrl-C (SIGINT).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { imageflow } from './support/run-cli.js';
import { photoFiles } from './support/stack.js';

const stateFile = join(mkdtempSync(join(tmpdir(), 'imageflow-up-')), 'stack.json');
const env = { S3_PORT: '0', RESIZE_PORT: '0', FILTER_PORT: '0', DETECTION_PORT: '0', GATEWAY_PORT: '0', MINIO_ENDPOINT: '', IMAGEFLOW_STACK_FILE: stateFile };
let up: ChildProcess | undefined;

afterAll(() => {
  if (up && up.exitCode === null) up.kill('SIGKILL');
});

describe('imageflow up', () => {
  it('starts the stack, serves run and smoke, and stops on SIGINT', async () => {
    up = spawn(process.execPath, ['cli/bin.mjs', 'up'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready in 120 s:\n${lines.join('\n')}`)), 120_000);
      createInterface({ input: up!.stdout! }).on('line', (line) => {
        lines.push(line);
        if (line.startsWith('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      up!.once('exit', (code) => reject(new Error(`up exited with ${code}:\n${lines.join('\n')}`)));
    });
    const endpoint = (name: string) => lines.find((l) => l.startsWith(`${name} `))?.split(/\s+/).pop();
    expect(endpoint('gateway')).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(endpoint('resize')).toMatch(/^grpc:\/\/127\.0\.0\.1:\d+$/);
    expect(endpoint('s3')).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { pid: number; gateway: string };
    expect(state).toMatchObject({ pid: up.pid, gateway: endpoint('gateway') });

    // `run` finds it through the state file.
    const photos = photoFiles(['chelsea']);
    const run = await imageflow(['run', 'thumbnails', '-i', photos.chelsea], { IMAGEFLOW_STACK_FILE: stateFile, IMAGEFLOW_GATEWAY: undefined });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`running thumbnails against the stack of \`imageflow up\` (pid ${up.pid}) (${endpoint('gateway')})`);
    expect(run.stdout).toMatch(/thumbnails-\w+: Succeeded/);

    const smoke = await imageflow(['smoke', '--json'], { IMAGEFLOW_STACK_FILE: stateFile, IMAGEFLOW_GATEWAY: undefined });
    expect(smoke.code, smoke.stdout).toBe(0);
    expect(JSON.parse(smoke.stdout).gateway).toBe(endpoint('gateway'));

    // Ctrl-C: everything stops, the state file goes away, the gateway no longer answers.
    const exited = new Promise<number | null>((resolve) => up!.once('exit', (code) => resolve(code)));
    up.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(existsSync(stateFile)).toBe(false);
    await expect(fetch(`${endpoint('gateway')}/health`)).rejects.toThrow();
  }, 180_000);
});
