// `doctor` on the real control plane: a Pod created while the webhook was down is found, and
// --restart rolls its Deployment the way `kubectl rollout restart` does, so the Pod the controller
// (played here by the test: no controller runs) creates from the new template is mutated; a typo
// annotation and a webhook configuration without v1 are reported; a healthy one is not.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { AppsV1Api, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { useE2E, uniqueSuffix } from './harness/clients.js';
import { isMutated, injectedRoleArn } from './harness/inspect.js';
import {
  createPod,
  createServiceAccount,
  createTestNamespace,
  podManifest,
  roleArn,
  type TestNamespace,
} from './harness/objects.js';
import {
  createWebhookConfiguration,
  podIdentityWebhook,
  registerPodIdentityWebhook,
} from './harness/registration.js';
import { cliPath, startWebhook, type WebhookProcess } from './harness/webhook.js';
import { repoRoot } from '../support/paths.js';
import { runDoctor, type DoctorFlags } from '../../src/commands/doctor.js';
import type { Finding } from '../../src/irsa/doctor.js';
import { RESTARTED_AT_ANNOTATION } from '../../src/irsa/doctor-workloads.js';
import { ANNOTATION, DEFAULT_ANNOTATION_PREFIX } from '../../src/vocabulary.js';

const { ctx, kubeConfig } = useE2E();
const apps = kubeConfig.makeApiClient(AppsV1Api);

/** The built CLI once src/cli/main.ts has the command; until then the command's function. */
const wired = readFileSync(new URL('../../src/cli/main.ts', import.meta.url), 'utf8').includes(
  'addDoctorCommand',
);

interface DoctorRun {
  status: number;
  findings: Finding[];
  stdout: string;
  stderr: string;
}

async function doctor(args: string[]): Promise<DoctorRun> {
  const all = ['--kubeconfig', ctx.kubeconfig, '--output', 'json', ...args];
  if (wired) {
    const run = spawnSync(process.execPath, [cliPath, 'doctor', ...all], { cwd: repoRoot, encoding: 'utf8' });
    const parsed =
      run.status === 0 || run.status === 1 ? (JSON.parse(run.stdout) as { findings: Finding[] }) : undefined;
    return {
      status: run.status ?? -1,
      findings: parsed?.findings ?? [],
      stdout: run.stdout,
      stderr: run.stderr,
    };
  }
  const flags: DoctorFlags = { annotationPrefix: DEFAULT_ANNOTATION_PREFIX, restart: false, output: 'json' };
  for (let i = 0; i < all.length; i++) {
    const [flag, value] = [all[i]!, all[i + 1]];
    if (flag === '--restart') flags.restart = true;
    else {
      const key = flag.slice(2).replace(/-(\w)/g, (_m, c: string) => c.toUpperCase());
      (flags as unknown as Record<string, unknown>)[key] = value;
      i++;
    }
  }
  try {
    const result = await runDoctor(flags);
    return { status: result.exitCode, findings: result.findings, stdout: result.text, stderr: '' };
  } catch (error) {
    return { status: 2, findings: [], stdout: '', stderr: (error as Error).message };
  }
}

const problems = (run: DoctorRun) => run.findings.filter((finding) => finding.severity !== 'info');

let ns: TestNamespace;
let webhook: WebhookProcess;
let healthy: string;
const deployment = 'web';

/** A Deployment, its ReplicaSet and one Pod, linked by ownerReferences, as a controller leaves them. */
async function createDeploymentWithPod(namespace: string, name: string): Promise<V1Pod> {
  const labels = { app: name };
  const template = {
    metadata: { labels },
    spec: podManifest('template', { serviceAccountName: 'app' }).spec!,
  };
  const created = await apps.createNamespacedDeployment({
    namespace,
    body: { metadata: { name }, spec: { selector: { matchLabels: labels }, template } },
  });
  const replicaSet = await apps.createNamespacedReplicaSet({
    namespace,
    body: {
      metadata: {
        name: `${name}-5d8f7c`,
        labels,
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name,
            uid: created.metadata!.uid!,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: { selector: { matchLabels: labels }, template },
    },
  });
  return createPod(namespace, {
    ...podManifest(`${name}-5d8f7c-${uniqueSuffix()}`, { serviceAccountName: 'app', labels }),
    metadata: {
      name: `${name}-5d8f7c-${uniqueSuffix()}`,
      labels,
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: replicaSet.metadata!.name!,
          uid: replicaSet.metadata!.uid!,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
  });
}

let missedPod: V1Pod;

beforeAll(async () => {
  ns = await createTestNamespace('doctor');
  await createServiceAccount(ns.name, 'app', { roleArn: roleArn('doctor') });
  // The webhook is down (not even registered yet): this Pod is admitted without its role.
  missedPod = await createDeploymentWithPod(ns.name, deployment);
  expect(isMutated(missedPod)).toBe(false);
  webhook = await startWebhook({ name: 'doctor' });
  healthy = (await registerPodIdentityWebhook({ endpoint: webhook, namespace: ns })).metadata!.name!;
});

describe('doctor', () => {
  it(`finds the Pod that missed the webhook, and --restart rolls its Deployment so the next Pod is mutated`, async () => {
    const before = await doctor(['--namespace', ns.name, '--webhook-configuration', healthy]);
    expect(before.stderr).toBe('');
    expect(before.status).toBe(1);
    expect(problems(before)).toEqual([
      expect.objectContaining({
        severity: 'warn',
        check: 'pod-not-mutated',
        subject: `Deployment ${ns.name}/${deployment}`,
        problem: expect.stringContaining(missedPod.metadata!.name!),
        action: expect.stringContaining(`kubectl -n ${ns.name} rollout restart deployment/${deployment}`),
      }),
    ]);
    // Read-only without --restart.
    const untouched = await apps.readNamespacedDeployment({ namespace: ns.name, name: deployment });
    expect(untouched.spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION]).toBeUndefined();

    const startedAt = Date.now();
    const restart = await doctor(['--namespace', ns.name, '--webhook-configuration', healthy, '--restart']);
    expect(restart.stderr).toBe('');
    expect(restart.findings).toContainEqual(
      expect.objectContaining({
        severity: 'info',
        check: 'restart',
        subject: `Deployment ${ns.name}/${deployment}`,
      }),
    );
    expect(restart.status).toBe(0);

    const rolled: V1Deployment = await apps.readNamespacedDeployment({
      namespace: ns.name,
      name: deployment,
    });
    const stamp = rolled.spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION] ?? '';
    expect(stamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(Date.parse(stamp)).toBeGreaterThanOrEqual(Math.floor(startedAt / 1000) * 1000);
    expect(Date.parse(stamp)).toBeLessThanOrEqual(Date.now());

    // The Deployment controller's part: a new Pod from the rolled template, now through the webhook.
    const template = rolled.spec!.template;
    const recreated = await createPod(ns.name, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...template.metadata, name: `${deployment}-7b9c4d-${uniqueSuffix()}` },
      spec: template.spec,
    });
    expect(isMutated(recreated)).toBe(true);
    expect(injectedRoleArn(recreated)).toBe(roleArn('doctor'));
    expect(webhook.reviewedPods()).toContain(`${ns.name}/${recreated.metadata!.name}`);
  });

  it('reports a ServiceAccount annotation with a typo, naming the right key', async () => {
    const typoNs = await createTestNamespace('doctor-typo');
    const typo = `eks.amazon.com/${ANNOTATION.roleArn}`;
    await createServiceAccount(typoNs.name, 'typo', { annotations: { [typo]: roleArn('typo') } });
    const run = await doctor(['--namespace', typoNs.name, '--webhook-configuration', healthy]);
    expect(run.status).toBe(1);
    expect(problems(run)).toEqual([
      expect.objectContaining({
        severity: 'warn',
        check: 'annotation',
        subject: `ServiceAccount ${typoNs.name}/typo`,
        problem: expect.stringContaining(`did you mean "${DEFAULT_ANNOTATION_PREFIX}/${ANNOTATION.roleArn}"`),
        action: expect.stringContaining(`annotate serviceaccount typo`),
      }),
    ]);
  });

  it('reports a webhook configuration without v1 in admissionReviewVersions, and passes a healthy one', async () => {
    const quiet = await createTestNamespace('doctor-quiet');
    const ok = await doctor(['--namespace', quiet.name, '--webhook-configuration', healthy]);
    expect(ok.stderr).toBe('');
    expect(problems(ok)).toEqual([]);
    expect(ok.status).toBe(0);

    // Selects only a namespace with no Pods, so it never reviews anything.
    const v1beta1Only = await createWebhookConfiguration('doctor-v1beta1', [
      podIdentityWebhook({ endpoint: webhook, namespace: quiet, admissionReviewVersions: ['v1beta1'] }),
    ]);
    const name = v1beta1Only.metadata!.name!;
    const bad = await doctor(['--namespace', quiet.name, '--webhook-configuration', name]);
    expect(bad.status).toBe(1);
    expect(problems(bad)).toEqual([
      expect.objectContaining({
        check: 'webhook-configuration',
        subject: `MutatingWebhookConfiguration ${name} webhook pod-identity-webhook.amazonaws.com`,
        problem: expect.stringContaining('without v1'),
      }),
    ]);
  });

  it('reports a caBundle that does not verify the serving certificate', async () => {
    const quiet = await createTestNamespace('doctor-ca');
    const wrongCa = Buffer.from(readFileSync(ctx.clusterCa.cert)).toString('base64');
    const configuration = await createWebhookConfiguration('doctor-wrong-ca', [
      podIdentityWebhook({ endpoint: { url: webhook.url, caBundle: wrongCa }, namespace: quiet }),
    ]);
    const run = await doctor([
      '--namespace',
      quiet.name,
      '--webhook-configuration',
      configuration.metadata!.name!,
    ]);
    expect(run.status).toBe(1);
    expect(problems(run)).toEqual([
      expect.objectContaining({
        severity: 'error',
        check: 'certificate',
        problem: expect.stringContaining('caBundle does not verify'),
      }),
    ]);
  });

  it('verifies a token of a ServiceAccount against the cluster’s issuer and JWKS, and reports a wrong issuer', async () => {
    const checkToken = (issuer: string) =>
      doctor([
        '--namespace',
        ns.name,
        '--webhook-configuration',
        healthy,
        '--check-token',
        `${ns.name}/app`,
        '--issuer',
        issuer,
      ]);
    const good = await checkToken(ctx.serviceAccount.issuer);
    expect(good.findings.filter((finding) => finding.check === 'token')).toEqual([]);
    const wrong = await checkToken('https://oidc.example.com/id/ABC');
    expect(wrong.status).toBe(1);
    expect(wrong.findings).toContainEqual(
      expect.objectContaining({
        severity: 'error',
        check: 'token',
        problem: expect.stringContaining(`issuer is ${ctx.serviceAccount.issuer}`),
      }),
    );
  });

  it('exits 2 when the cluster cannot be reached or the input is bad', async () => {
    const badRef = await doctor(['--check-token', 'no-slash']);
    expect(badRef.status).toBe(2);
    expect(badRef.stderr).toContain('--check-token must be NAMESPACE/SERVICEACCOUNT');
    const missing = await doctor(['--namespace', `absent-${uniqueSuffix()}`]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('not found');
  });
});
