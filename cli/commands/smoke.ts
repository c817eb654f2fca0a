import type { Command } from 'commander';
export function registerSmoke(program: Command): void {
  void program;
}
