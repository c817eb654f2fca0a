// Exit codes scripts can rely on; `imageflow --help` prints this table.
export const EXIT = {
  /** The command did what it was asked; a run or workflow Succeeded. */
  OK: 0,
  /** A pipeline run or workflow ended Failed/Error, or a smoke/lint check failed. */
  FAILED: 1,
  /** Bad usage or configuration: unknown pipeline, bad -p value, unsupported template field. */
  USAGE: 2,
  /** The cluster or a service could not be reached, or refused us (kubeconfig, API server, RBAC). */
  CLUSTER: 3,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODES_HELP = `
Exit codes:
  0  success (the pipeline/workflow Succeeded, all checks passed)
  1  the pipeline/workflow failed, or a smoke/lint check failed
  2  usage or configuration error (unknown pipeline, bad parameter, unsupported template field)
  3  cluster or connectivity error (no kubeconfig, API server unreachable, forbidden, gateway down)`;

/** An error that ends the command with a given exit code and a message meant for people. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string) => new CliError(message, EXIT.USAGE);
export const clusterError = (message: string) => new CliError(message, EXIT.CLUSTER);
