// `imageflow submit` against a stand-in Kubernetes API server on loopback (support/fake-kube-api.ts):
// the body sent is a valid Workflow, watch events drive the progress output, the exit code follows
// the phase, and each cluster problem has its message and exit code 3.
import { afterEach, describe, expect, it } from 'vitest';
import { pipelines } from '../../pipelines/index.js';
import { validateArgoObject } from '../pipeline/argo-schema.js';
import { progressDisplay } from '../../cli/submit/progress-display.js';
import { workflowReportNodes } from '../../cli/submit/workflow-nodes.js';
import type { ArgoWorkflow } from '../../cli/submit/argo-api.js';
import { startFakeKubeApi, writeKubeconfig, type FakeKubeApi, type WatchBatch } from './support/fake-kube-api.js';
import { imageflow as runInProcess, imageflowProcess as runProcess } from './support/run-cli.js';

const privacyBlur = pipelines.find((p) => p.name === 'privacy-blur')!;
const TEMPLATES = { 'image-processing/privacy-blur': privacyBlur.compile() };

let api: FakeKubeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const imageflow = (args: string[], env: Record<string, string | undefined> = {}) => runInProcess(args, { KUBECONFIG: undefined, ...env });
const imageflowProcess = (args: string[]) => runProcess(args, { KUBECONFIG: undefined });

const t0 = Date.parse('2026-11-27T20:00:00Z');
const at = (s: number) => new Date(t0 + s * 1000).toISOString().replace('.000', '');

/** status.nodes the way Argo writes them for privacy-blur: a DAG root, Retry nodes, HTTP attempts. */
function nodes(wf: string, findPeople: string, blurAll?: string): Record<string, unknown> {
  const n: Record<string, Record<string, unknown>> = {
    [wf]: { id: wf, name: wf, displayName: wf, type: 'DAG', templateName: 'main', phase: 'Running', startedAt: at(0), children: [`${wf}-1`] },
    [`${wf}-1`]: {
      id: `${wf}-1`, name: `${wf}.find-people`, displayName: 'find-people', type: 'Retry', templateName: 'detect', boundaryID: wf, phase: findPeople, startedAt: at(1), children: [`${wf}-2`],
      ...(findPeople === 'Succeeded' ? { finishedAt: at(3), outputs: { result: JSON.stringify({ detections: [{ label: 'person', confidence: 0.9 }] }) } } : {}),
    },
    [`${wf}-2`]: { id: `${wf}-2`, name: `${wf}.find-people(0)`, displayName: 'find-people(0)', type: 'HTTP', templateName: 'detect', boundaryID: wf, phase: findPeople, startedAt: at(1) },
  };
  if (blurAll) {
    const done = blurAll !== 'Running';
    n[`${wf}-3`] = {
      id: `${wf}-3`, name: `${wf}.blur-all`, displayName: 'blur-all', type: 'Retry', templateName: 'filter', boundaryID: wf, phase: blurAll, startedAt: at(3),
      children: blurAll === 'Failed' ? [`${wf}-4`, `${wf}-5`] : [`${wf}-4`],
      ...(done ? { finishedAt: at(5) } : {}),
      ...(blurAll === 'Failed' ? { message: 'No more retries left' } : {}),
      ...(blurAll === 'Succeeded' ? { outputs: { result: JSON.stringify({ output: { key: 'derived/photos/street/filter-0123456789abcdef.jpg', width: 800, height: 600 } }) } } : {}),
    };
    n[`${wf}-4`] = { id: `${wf}-4`, name: `${wf}.blur-all(0)`, displayName: 'blur-all(0)', type: 'HTTP', boundaryID: wf, phase: blurAll };
    if (blurAll === 'Failed') n[`${wf}-5`] = { id: `${wf}-5`, name: `${wf}.blur-all(1)`, displayName: 'blur-all(1)', type: 'HTTP', boundaryID: wf, phase: 'Failed' };
  }
  return n;
}

const WF = 'privacy-blur-x7k2p';
function script(outcome: 'Succeeded' | 'Failed'): WatchBatch[] {
  return [
    // First connection: the workflow starts, then the server ends the stream (a watch timeout).
    [{ type: 'MODIFIED', status: { phase: 'Running', startedAt: at(0), progress: '0/2', nodes: nodes(WF, 'Running') } }],
    // The client reconnects from its resourceVersion and sees the rest.
    [
      { type: 'MODIFIED', status: { phase: 'Running', startedAt: at(0), progress: '1/2', nodes: nodes(WF, 'Succeeded', 'Running') } },
      {
        type: 'MODIFIED',
        status: {
          phase: outcome,
          startedAt: at(0),
          finishedAt: at(6),
          progress: outcome === 'Succeeded' ? '2/2' : '1/2',
          ...(outcome === 'Failed' ? { message: "child 'privacy-blur-x7k2p-3' failed" } : {}),
          nodes: nodes(WF, 'Succeeded', outcome),
          ...(outcome === 'Succeeded' ? { outputs: { parameters: [{ name: 'blurred', value: '{"output":{"key":"derived/photos/street/filter-0123456789abcdef.jpg"}}' }] } } : {}),
        },
      },
    ],
  ];
}

describe('imageflow submit', () => {
  it('creates a valid Workflow referencing the template; watch events drive the step lines; exit 0 on Succeeded', async () => {
    api = await startFakeKubeApi({ templates: TEMPLATES, watchBatches: script('Succeeded') });
    const r = await imageflowProcess(['submit', 'privacy-blur', '-p', 'image=photos/street.jpg', '-p', 'confidence=0.6', '--watch', '--kubeconfig', api.kubeconfig]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [body] = api.created;
    expect(body).toMatchObject({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Workflow',
      metadata: { generateName: 'privacy-blur-', namespace: 'image-processing' },
      spec: { workflowTemplateRef: { name: 'privacy-blur' }, arguments: { parameters: [{ name: 'image', value: 'photos/street.jpg' }, { name: 'confidence', value: '0.6' }] } },
    });
    expect((await validateArgoObject(body as { kind: string })).problems).toEqual([]);
    // It checked the template exists, created, read and watched the workflow (twice: reconnect).
    expect(api.requests.filter((q) => q.startsWith('GET /apis/argoproj.io/v1alpha1/namespaces/image-processing/workflowtemplates/privacy-blur'))).toHaveLength(1);
    const watches = api.requests.filter((q) => q.includes('watch=true'));
    expect(watches).toHaveLength(2);
    expect(watches[0]).toContain(`fieldSelector=metadata.name%3D${WF}`);
    expect(watches[1]).toMatch(/resourceVersion=\d+/);
    // Plain lines (stdout is not a terminal), in the order the events came.
    const lines = r.stdout.split('\n');
    const expected = [
      `workflow image-processing/${WF} created from WorkflowTemplate privacy-blur`,
      `${WF} Running`,
      '  ● find-people Running',
      '  ✔ find-people Succeeded in 2.0s: 1 detection',
      '  ● blur-all Running',
      `${WF} Succeeded`,
      '  ✔ blur-all Succeeded in 2.0s: derived/photos/street/filter-0123456789abcdef.jpg (800x600)',
      `${WF}: Succeeded`,
      'output blurred: {"output":{"key":"derived/photos/street/filter-0123456789abcdef.jpg"}}',
    ];
    expect(lines.filter((l) => expected.includes(l))).toEqual(expected);
    expect(r.stdout).not.toContain('\x1b[');
    // Includes compiling Argo's CRD schemas for the validity check (~15 s of CPU on first use).
  }, 180_000);

  it('exit 1 when the workflow ends Failed, with the failed step shown', async () => {
    api = await startFakeKubeApi({ templates: TEMPLATES, watchBatches: script('Failed') });
    const r = await imageflow(['submit', 'privacy-blur', '-w', '--kubeconfig', api.kubeconfig]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('  ✖ blur-all Failed after 2 attempts in 2.0s: No more retries left');
    expect(r.stdout).toContain(`${WF}: Failed (child 'privacy-blur-x7k2p-3' failed)`);
  });

  it('--inline embeds the compiled template and does not need it in the cluster', async () => {
    api = await startFakeKubeApi({});
    const r = await imageflow(['submit', 'privacy-blur', '--inline', '-p', 'image=a.jpg', '-n', 'team-a', '--kubeconfig', api.kubeconfig]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`workflow team-a/${WF} created (inline template)\n`);
    const body = api.created[0] as { metadata: { namespace: string }; spec: { workflowTemplateRef?: unknown; entrypoint: string; templates: unknown[]; arguments: { parameters: { name: string; value: string }[] } } };
    expect(body.spec.workflowTemplateRef).toBeUndefined();
    expect(body.spec.entrypoint).toBe('main');
    expect(body.spec.templates.length).toBe(3);
    expect(body.spec.arguments.parameters.find((p) => p.name === 'image')?.value).toBe('a.jpg');
    expect(body.metadata.namespace).toBe('team-a');
    expect((await validateArgoObject(body as unknown as { kind: string })).problems).toEqual([]);
    expect(api.requests.some((q) => q.includes('workflowtemplates'))).toBe(false);
  }, 180_000);

  it('a missing WorkflowTemplate: exit 3, suggests kubectl apply -f dist/', async () => {
    api = await startFakeKubeApi({});
    const r = await imageflow(['submit', 'privacy-blur', '--kubeconfig', api.kubeconfig]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('WorkflowTemplate "privacy-blur" not found in namespace image-processing');
    expect(r.stderr).toContain('kubectl apply -f dist/');
    expect(api.created).toHaveLength(0);
  });

  it('forbidden: exit 3 with the API server message and what to check', async () => {
    api = await startFakeKubeApi({ templates: TEMPLATES, forbidCreate: true });
    const r = await imageflow(['submit', 'privacy-blur', '--kubeconfig', api.kubeconfig]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/forbidden \(403\): workflows\.argoproj\.io is forbidden: User "system:serviceaccount:ci:deployer" cannot create/);
    expect(r.stderr).toContain('kubectl auth can-i create workflows.argoproj.io');
  });

  it('an unreachable API server: exit 3', async () => {
    const probe = await startFakeKubeApi({});
    const kubeconfig = writeKubeconfig(probe.server);
    await probe.close(); // nothing listens there any more
    const r = await imageflow(['submit', 'privacy-blur', '--kubeconfig', kubeconfig]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/the API server https:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\)/);
  });

  it('no kubeconfig at all: exit 3 and how to get one', async () => {
    const r = await imageflow(['submit', 'privacy-blur'], { HOME: '/nonexistent-home', KUBERNETES_SERVICE_HOST: undefined });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('no kubeconfig found: set KUBECONFIG, pass --kubeconfig FILE, or create ~/.kube/config');
  });

  it('a wrong parameter is a usage error (exit 2) before any API call', async () => {
    api = await startFakeKubeApi({ templates: TEMPLATES });
    const r = await imageflow(['submit', 'privacy-blur', '-p', 'colour=red', '--kubeconfig', api.kubeconfig]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('parameters.colour');
    expect(api.requests).toHaveLength(0);
  });
});

describe('submit --watch on a terminal', () => {
  it('redraws one step table in place on every event', () => {
    let text = '';
    const tty = { isTTY: true, write: (s: string) => ((text += s), true) };
    const display = progressDisplay(tty, WF);
    const wf = (status: Record<string, unknown>) => ({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Workflow', metadata: { name: WF }, spec: {}, status }) as ArgoWorkflow;
    const first = wf({ phase: 'Running', progress: '0/2', nodes: nodes(WF, 'Running') });
    display.update('Running', workflowReportNodes(first), '0/2');
    const drawn = text.split('\n').length - 1;
    expect(text).toBe(`${WF}: Running (0/2)\nSTEP           TEMPLATE  PHASE    TRIES  DURATION  RESULT / MESSAGE\n● find-people  detect    Running  1      -\n`);
    display.update('Running', workflowReportNodes(wf({ phase: 'Running', nodes: nodes(WF, 'Succeeded', 'Running') })), '1/2');
    // Cursor up over the previous table, clear to the end, draw the new one.
    const second = text.slice(text.indexOf('\x1b['));
    expect(second.startsWith(`\x1b[${drawn}A\x1b[J${WF}: Running (1/2)\n`)).toBe(true);
    expect(second).toContain('✔ find-people  detect    Succeeded  1      2.0s      1 detection');
    expect(second).toContain('● blur-all');
  });
});
