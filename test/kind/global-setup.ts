// vitest globalSetup of the kind project: brings the kind cluster up with hack/kind/offline.sh up
// (the CI path: every tool and image built here, no registry), or reuses one that is already up
// when POD_IDENTITY_WEBHOOK_KIND_REUSE=1, and hands its kubeconfig and environment to the tests.
// The returned teardown runs `offline.sh down` (cluster, dockerd, networks, mounts) unless reused.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { TestProject } from 'vitest/node';
import type { KindContext } from './context.js';
import { kindDir, readKindEnv } from './harness/kind-env.js';
import { repoRoot } from '../support/paths.js';
import { newRunDir } from '../support/run-dirs.js';
import { runHackScript } from '../support/scripts.js';
import { waitFor } from '../support/wait.js';

const IMAGE = { repository: 'pod-identity-webhook', tag: 'kind' };

function log(message: string): void {
  console.log(`[kind] ${message}`);
}

/** `bash hack/kind/offline.sh <action>`, its output in the run folder and echoed on stderr. */
function offline(action: 'up' | 'down', logFile: string): Promise<void> {
  const script = join(repoRoot, 'hack/kind/offline.sh');
  const out = createWriteStream(logFile, { flags: 'a' });
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, action], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const echo = (chunk: Buffer): void => {
      out.write(chunk);
      process.stderr.write(chunk);
      tail = (tail + chunk.toString()).slice(-4000);
    };
    child.stdout.on('data', echo);
    child.stderr.on('data', echo);
    child.on('error', reject);
    child.on('close', (code) => {
      out.end();
      if (code === 0) resolve();
      else reject(new Error(`${script} ${action} failed (exit ${code}); log ${logFile}:\n${tail}`));
    });
  });
}

/** The node is Ready and kube-system's Pods run: the cluster can take the tests. */
async function waitForCluster(kubeconfig: string): Promise<string> {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  const core = config.makeApiClient(CoreV1Api);
  return waitFor(
    'the kind node to be Ready',
    async () => {
      const nodes = (await core.listNode()).items;
      const ready = nodes.filter((n) =>
        n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      return ready.length > 0 && ready.length === nodes.length
        ? `${ready.map((n) => `${n.metadata?.name} (${n.status?.nodeInfo?.kubeletVersion})`).join(', ')}`
        : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 1000 },
  );
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const base = process.env.POD_IDENTITY_WEBHOOK_KIND_RUNS ?? join(repoRoot, '.kind-test');
  const runDir = await newRunDir(base);
  await mkdir(join(runDir, 'logs'), { recursive: true });
  log(`run folder ${runDir}`);

  const helm = join(await runHackScript('build-helm.sh'), 'helm');
  const wantsReuse = process.env.POD_IDENTITY_WEBHOOK_KIND_REUSE === '1';
  const up = existsSync(join(kindDir, 'ready'));
  const reuse = wantsReuse && up;
  const upLog = join(runDir, 'logs', 'offline-up.log');
  if (reuse) log(`reusing the cluster in ${kindDir} (POD_IDENTITY_WEBHOOK_KIND_REUSE=1)`);
  else {
    log(`bash hack/kind/offline.sh up (log ${upLog})${wantsReuse ? '; kept afterwards' : ''}`);
    await offline('up', upLog);
  }
  // With REUSE=1 a cluster made by this run stays too: the next run reuses it.
  const keep = wantsReuse;
  const teardown = async (): Promise<void> => {
    if (keep) {
      log(`cluster kept (POD_IDENTITY_WEBHOOK_KIND_REUSE=1); logs in ${runDir}`);
      return;
    }
    const downLog = join(runDir, 'logs', 'offline-down.log');
    log(`bash hack/kind/offline.sh down (log ${downLog})`);
    await offline('down', downLog);
    log(`logs in ${runDir}`);
  };

  try {
    const env = await readKindEnv();
    const kubeconfig = env['KUBECONFIG'] ?? join(kindDir, 'kubeconfig');
    const nodes = await waitForCluster(kubeconfig);
    const context: KindContext = { runDir, kubeconfig, env, helm, image: IMAGE, reuse: keep };
    project.provide('kind', context);
    log(
      `cluster ready in ${Math.round((Date.now() - started) / 1000)} s: ${nodes}; kubeconfig ${kubeconfig}`,
    );
  } catch (error) {
    await teardown().catch((e: unknown) => log(`teardown after a failed setup failed: ${String(e)}`));
    throw error;
  }
  return teardown;
}
