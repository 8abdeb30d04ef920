// Commands the tests run on this machine: helm (pinned, isolated from ~/.config/helm), docker and
// kind (with the cluster's environment from .kind/env), and the project's own CLI.
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kind } from './cluster.js';
import { repoRoot } from '../../support/paths.js';

export interface CommandResult {
  command: string;
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; resolves with its exit code and output (never throws for a non-zero exit). */
export function run(
  file: string,
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {},
): Promise<CommandResult> {
  const command = [file, ...args].join(' ');
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        env: options.env,
        cwd: options.cwd ?? repoRoot,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(new Error(`${command}: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ command, code: error ? Number(error.code) : 0, stdout, stderr });
      },
    );
  });
}

/** Throws with the command's output unless it exited 0; returns its stdout. */
export function ok(result: CommandResult): string {
  if (result.code !== 0) {
    throw new Error(
      `${result.command} exited ${result.code}:\n${result.stderr}${result.stdout.slice(-2000)}`,
    );
  }
  return result.stdout;
}

/** This process's environment with .kind/env on top: docker, kind, kubectl of the cluster. */
export function kindEnv(): Record<string, string> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
  return { ...base, ...kind().ctx.env };
}

let helmHome: Promise<string> | undefined;

/** The pinned helm against the kind cluster, with its own config, cache and data directories. */
export async function helm(args: string[], timeoutMs = 240_000): Promise<CommandResult> {
  const { ctx } = kind();
  const home = await (helmHome ??= mkdtemp(join(tmpdir(), 'pod-identity-webhook-kind-helm-')));
  return run(ctx.helm, [...args, '--kubeconfig', ctx.kubeconfig], {
    timeoutMs,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: home,
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_DATA_HOME: join(home, 'data'),
    },
  });
}

/** The built CLI (`npm run build`), e.g. `trust-policy`. */
export function cli(args: string[]): Promise<CommandResult> {
  return run(process.execPath, [join(repoRoot, 'dist/cli/main.js'), ...args], { timeoutMs: 30_000 });
}
