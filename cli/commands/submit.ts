// `imageflow submit`: create an Argo Workflow (referencing the WorkflowTemplate, or embedding the
// compiled one with --inline), optionally follow it through the watch API, exit with its outcome.
import type { Command } from 'commander';
import type { Pipeline } from '../../constructs/pipeline/index.js';
import { DEFAULT_NAMESPACE } from '../../constructs/pipeline/props.js';
import { CliError, clusterError, EXIT, usageError } from '../exit-codes.js';
import { collectPair } from '../parameters.js';
import type { ArgoWorkflow } from '../submit/argo-api.js';
import { progressDisplay } from '../submit/progress-display.js';
import { isFinished, workflowReportNodes } from '../submit/workflow-nodes.js';

interface SubmitFlags {
  param: Record<string, string>;
  namespace?: string;
  inline?: boolean;
  watch?: boolean;
  kubeconfig?: string;
  context?: string;
  fusion?: string;
  gatewayUrl?: string;
  dryRun?: boolean;
}

const DNS_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A known pipeline, or (for a plain DNS name we do not know) just the template's name. */
async function resolveTarget(ref: string): Promise<{ pipeline?: Pipeline; templateName: string }> {
  const { loadPipeline } = await import('../pipeline-source.js');
  try {
    const pipeline = await loadPipeline(ref);
    return { pipeline, templateName: pipeline.name };
  } catch (err) {
    if (err instanceof CliError && err.message.startsWith('unknown pipeline') && DNS_NAME.test(ref)) return { templateName: ref };
    throw err;
  }
}

export async function buildWorkflow(target: { pipeline?: Pipeline; templateName: string }, flags: SubmitFlags, namespace: string): Promise<ArgoWorkflow> {
  if (target.pipeline) {
    const { toWorkflow } = await import('../../constructs/pipeline/index.js');
    return toWorkflow(target.pipeline, {
      parameters: flags.param,
      inline: flags.inline,
      namespace,
      fusion: flags.fusion === undefined ? undefined : flags.fusion === 'on',
      gatewayUrl: flags.gatewayUrl,
    }) as unknown as ArgoWorkflow;
  }
  if (flags.inline) throw usageError(`--inline needs a pipeline this checkout knows; "${target.templateName}" is only a template name`);
  const parameters = Object.entries(flags.param).map(([name, value]) => ({ name, value }));
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Workflow',
    metadata: { generateName: `${target.templateName}-`, namespace },
    spec: { workflowTemplateRef: { name: target.templateName }, ...(parameters.length ? { arguments: { parameters } } : {}) },
  };
}

export function registerSubmit(program: Command): void {
  program
    .command('submit')
    .description('Submit a pipeline to Argo Workflows in a cluster (kubeconfig), and with --watch follow it to the end')
    .argument('<pipeline-or-template>', 'an example pipeline, a .ts/.json pipeline, or the name of a WorkflowTemplate in the cluster')
    .option('-p, --param <name=value>', 'set a pipeline parameter (repeatable)', collectPair, {})
    .option('-n, --namespace <ns>', `namespace of the WorkflowTemplate and the Workflow (default: ${DEFAULT_NAMESPACE})`)
    .option('--inline', 'embed the compiled template in the Workflow instead of referencing the WorkflowTemplate')
    .option('-w, --watch', 'follow the workflow through the watch API and exit with its outcome')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: $KUBECONFIG, then ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use')
    .option('--fusion <on|off>', "with --inline: override the pipeline's fusion switch")
    .option('--gateway-url <url>', 'with --inline: gateway URL the steps call (default: the in-cluster Service)')
    .option('--dry-run', 'print the Workflow that would be created, and stop')
    .addHelpText(
      'after',
      `
Without --watch it exits 0 once the Workflow is created. With --watch the exit code follows the
workflow: 0 Succeeded, 1 Failed or Error. The WorkflowTemplate must be in the cluster unless
--inline is used: \`kubectl apply -f dist/\` installs every pipeline's template.

Examples:
  imageflow submit privacy-blur -p image=photos/street.jpg --watch
  imageflow submit batch-thumbnails --inline -p 'images=["a.jpg","b.jpg"]' -w
  imageflow submit thumbnails --dry-run`,
    )
    .action(async (ref: string, flags: SubmitFlags) => {
      if (flags.fusion && flags.fusion !== 'on' && flags.fusion !== 'off') throw usageError('--fusion must be on or off');
      const namespace = flags.namespace ?? DEFAULT_NAMESPACE;
      const target = await resolveTarget(ref);
      const workflow = await buildWorkflow(target, flags, namespace);
      if (flags.dryRun) {
        const { stringify } = await import('yaml');
        process.stdout.write(stringify(workflow));
        return;
      }
      // client-node is slow to import; only now that we talk to a cluster.
      const { ArgoApi } = await import('../submit/argo-api.js');
      const { loadKubeConfig } = await import('../submit/kubeconfig.js');
      const api = new ArgoApi(loadKubeConfig(flags));
      if (!flags.inline && !(await api.getTemplate(namespace, target.templateName)))
        throw clusterError(
          `WorkflowTemplate "${target.templateName}" not found in namespace ${namespace} at ${api.server}; install the templates with \`kubectl apply -f dist/\` (or submit with --inline)`,
        );
      const created = await api.createWorkflow(namespace, workflow);
      const name = created.metadata.name!;
      process.stdout.write(`workflow ${namespace}/${name} created${flags.inline ? ' (inline template)' : ` from WorkflowTemplate ${target.templateName}`}\n`);
      if (!flags.watch) return;

      const display = progressDisplay(process.stdout, name);
      let last: ArgoWorkflow = created;
      let deleted = false;
      const show = (wf: ArgoWorkflow) => {
        last = wf;
        display.update(wf.status?.phase, workflowReportNodes(wf), wf.status?.progress);
      };
      const current = await api.getWorkflow(namespace, name);
      show(current);
      if (!isFinished(current.status?.phase))
        await api.watchWorkflow(namespace, name, current.metadata.resourceVersion, (type, wf) => {
          if (type === 'DELETED') {
            deleted = true;
            return true;
          }
          show(wf);
          return isFinished(wf.status?.phase);
        });
      display.close();
      if (deleted) throw new CliError(`workflow ${name} was deleted before it finished`, EXIT.FAILED);
      const status = last.status ?? {};
      process.stdout.write(`${name}: ${status.phase}${status.message ? ` (${status.message})` : ''}\n`);
      for (const p of status.outputs?.parameters ?? []) process.stdout.write(`output ${p.name}: ${p.value ?? ''}\n`);
      if (status.phase !== 'Succeeded') throw new CliError('', EXIT.FAILED);
    });
}
