import type { Command } from 'commander';
export function registerSubmit(program: Command): void {
  void program;
}
