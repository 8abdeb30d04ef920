// The webhook for the soak: the built CLI's `serve` in cluster mode with file certificates the soak
// replaces, pinned to one core when there are two or more (the load generator gets another).
import { availableParallelism } from 'node:os';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MutationOptions } from '../../src/identity/options.js';
import { addDiagnostics, cluster, deferCleanup } from '../e2e/harness/clients.js';
import { ManagedProcess } from '../e2e/harness/processes.js';
import { imageNodeFlags } from '../../scripts/image-node-flags.mjs';
import { repoRoot } from '../support/paths.js';
import { httpsGet, servingPorts } from '../support/serving.js';
import { waitFor } from '../support/wait.js';

/** `taskset -c <cpu>` in front of a command when the machine has a core to spare for it. */
export function pinned(cpu: number, command: string, args: string[]): { command: string; args: string[] } {
  return availableParallelism() > cpu
    ? { command: 'taskset', args: ['-c', String(cpu), command, ...args] }
    : { command, args };
}

export interface SoakWebhook {
  process: ManagedProcess;
  pid: number;
  port: number;
  metricsPort: number;
  /** The mutation options it logged when it started serving: what its answers follow. */
  options: MutationOptions;
}

export async function startSoakWebhook(
  cli: string,
  certFile: string,
  keyFile: string,
  cpu: number,
): Promise<SoakWebhook> {
  const { ctx } = cluster();
  const args = [
    // The bundle runs as the image runs it, with the ENTRYPOINT's Node flags.
    ...(cli.endsWith('.mjs') && cli.includes('/bundle/') ? imageNodeFlags() : []),
    cli,
    'serve',
    ...['--port', '0', '--metrics-port', '0'],
    ...['--tls-cert', certFile, '--tls-key', keyFile],
    ...['--kubeconfig', ctx.kubeconfig],
  ];
  const { command, args: pinnedArgs } = pinned(cpu, process.execPath, args);
  const child = await ManagedProcess.start({
    name: 'webhook soak',
    command,
    args: pinnedArgs,
    cwd: repoRoot,
    logFile: join(ctx.logs.dir, 'webhook-soak.log'),
    pidDir: ctx.pidDir,
    // A line per review at 1,000 req/s: through a pipe to this busy process, the webhook's
    // synchronous log writes would wait for the test to read them.
    outputToFile: true,
  });
  const diagnostics = (): string =>
    `webhook soak: ${child.exitReason() ?? `running (pid ${child.pid})`}; log: ${child.logFile}\n${child.tail(25)}`;
  const removeDiagnostics = addDiagnostics(diagnostics);
  deferCleanup(async () => {
    await child.stop();
    removeDiagnostics();
  });
  const { port, metricsPort } = await waitFor(
    'the soak webhook to log its ports',
    () => servingPorts(child.output()),
    {
      intervalMs: 50,
      abortIf: () => child.exitReason(),
      hint: diagnostics,
    },
  );
  await waitFor(
    'the soak webhook /readyz',
    async () => ((await fetchReadyz(port, ctx.webhookCa.cert)) ? true : undefined),
    { timeoutMs: 60_000, abortIf: () => child.exitReason(), hint: diagnostics },
  );
  const line = child
    .output()
    .split('\n')
    .find((l) => l.includes('"msg":"pod-identity-webhook serving"'))!;
  const { options } = JSON.parse(line) as { options: MutationOptions };
  return { process: child, pid: child.pid!, port, metricsPort, options };
}

async function fetchReadyz(port: number, caFile: string): Promise<boolean> {
  const res = await httpsGet(port, await readFile(caFile, 'utf8'), '/readyz');
  return res.status === 200;
}

/** Resident set size of a process, from /proc (Linux). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kib) * 1024;
}
