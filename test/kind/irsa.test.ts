// IRSA end to end on a real node: Pods of a Deployment run with what the webhook injected and read
// their projected token themselves (checked inside the container, as a non-root user); then the
// real AWS SDK for JavaScript v3, in an image built for the test and with exactly the injected
// environment, exchanges the token with the project's local STS (`sts`, running in the cluster
// from the webhook image), which verifies it against the API server's JWKS and the role's trust
// policy as `trust-policy` printed it.
import type { V1Pod, V1PodSpec } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { apiRequest, kind, podLogs, uniqueSuffix, useKind } from './harness/cluster.js';
import { cli, ok } from './harness/commands.js';
import { buildSdkClientImage } from './harness/images.js';
import { createNamespace, installRelease, type Release } from './harness/releases.js';
import {
  awaitReachableInCluster,
  checkTokenPodSpec,
  createCheckTokenConfigMap,
  createServiceAccount,
  createWorkspace,
  NON_ROOT,
  ROLE_ARN_KEY,
  roleArn,
  tokenReport,
  waitForPodEnd,
  waitUntilRouted,
  type Workspace,
} from './harness/workloads.js';
import { allContainers, envValue } from '../e2e/harness/inspect.js';
import { waitFor } from '../support/wait.js';
import {
  ANNOTATION,
  DEFAULT_ANNOTATION_PREFIX,
  DEFAULT_TOKEN_AUDIENCE,
  DEFAULT_TOKEN_MOUNT_PATH,
  ENV,
  TOKEN_FILE,
  TOKEN_VOLUME_NAME,
} from '../../src/vocabulary.js';

const { core, apps } = useKind();
const annotation = (name: string): string => `${DEFAULT_ANNOTATION_PREFIX}/${name}`;
let release: Release;

beforeAll(async () => {
  release = await installRelease('irsa');
  // Every namespace of the release is reached the same way: one routed workspace covers them all.
  await waitUntilRouted(await createWorkspace(release, 'routed'));
});

async function waitForDeployment(namespace: string, name: string, replicas: number): Promise<V1Pod[]> {
  await waitFor(
    `Deployment ${namespace}/${name} to have ${replicas} available replicas`,
    async () => {
      const status = (await apps.readNamespacedDeployment({ namespace, name })).status;
      return status?.availableReplicas === replicas && status.updatedReplicas === replicas ? true : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  return (await core.listNamespacedPod({ namespace, labelSelector: `app=${name}` })).items.filter(
    (p) => p.metadata?.deletionTimestamp === undefined,
  );
}

/** Creates a Deployment of `spec` (its Pods labelled app=<name>); returns its Pods once available. */
async function runDeployment(
  namespace: string,
  name: string,
  replicas: number,
  spec: V1PodSpec,
): Promise<V1Pod[]> {
  await apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec },
      },
    },
  });
  return waitForDeployment(namespace, name, replicas);
}

describe('a Deployment in a selected namespace', () => {
  it('runs Pods with the injected variables that read their own token, as uid 65532', async () => {
    const workspace = await createWorkspace(release, 'deploy');
    const role = roleArn('deploy-worker');
    await createServiceAccount(workspace.namespace, 'worker', {
      [ROLE_ARN_KEY]: role,
      [annotation(ANNOTATION.tokenExpiration)]: '7200',
    });
    await createCheckTokenConfigMap(workspace.namespace);
    const pods = await runDeployment(
      workspace.namespace,
      'checker',
      2,
      checkTokenPodSpec('worker', { keepRunning: true, expectLifetimeSeconds: 7200 }),
    );
    expect(pods).toHaveLength(2);

    for (const pod of pods) {
      const container = pod.spec!.containers[0]!;
      expect(envValue(container, ENV.roleArn)).toBe(role);
      expect(envValue(container, ENV.webIdentityTokenFile)).toBe(`${DEFAULT_TOKEN_MOUNT_PATH}/${TOKEN_FILE}`);
      const projection = pod.spec!.volumes!.find((v) => v.name === TOKEN_VOLUME_NAME)?.projected?.sources?.[0]
        ?.serviceAccountToken;
      expect(projection).toMatchObject({ audience: DEFAULT_TOKEN_AUDIENCE, expirationSeconds: 7200 });

      // What the container itself saw and checked.
      const report = await tokenReport(workspace.namespace, pod.metadata!.name!);
      expect(report.error).toBeUndefined();
      expect(report.user).toEqual({ uid: 65532, gid: 65532 });
      expect(report.env[ENV.roleArn]).toBe(role);
      expect(report.token?.claims).toMatchObject({
        aud: [DEFAULT_TOKEN_AUDIENCE],
        sub: `system:serviceaccount:${workspace.namespace}:worker`,
      });
      expect(report.token?.lifetimeSeconds).toBe(7200);
      expect(report.checks).toEqual({
        nonRoot: true,
        audience: true,
        subject: true,
        lifetime: true,
        current: true,
        signature: true,
      });
      expect(report.ok).toBe(true);
    }
  });
});

describe('the AWS SDK in a Pod, against the local sts in the cluster', () => {
  const ROLE = roleArn('sdk-reader');
  const ACCOUNT = ROLE.split(':')[4]!;
  let image: string;
  let stsNamespace: string;
  let stsUrl: string;
  let trusted: Workspace;
  let elsewhere: Workspace;

  /** The STS's decisions, from its log lines. */
  async function decisions(): Promise<Array<Record<string, unknown>>> {
    const logs = [...(await podLogs(stsNamespace, 'app=sts')).values()].join('\n');
    return logs
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line['msg'] === 'AssumeRoleWithWebIdentity');
  }

  /** A namespace selected by the release with ServiceAccount `reader`: the role, this STS, a region. */
  async function readerWorkspace(purpose: string): Promise<Workspace> {
    const workspace = await createWorkspace(release, purpose);
    await createServiceAccount(workspace.namespace, 'reader', {
      [ROLE_ARN_KEY]: ROLE,
      [annotation(ANNOTATION.stsEndpoint)]: stsUrl,
      [annotation(ANNOTATION.region)]: 'eu-west-1',
    });
    return { ...workspace, serviceAccount: 'reader', role: ROLE };
  }

  beforeAll(async () => {
    image = await buildSdkClientImage();
    const discovery = await apiRequest('GET', '/.well-known/openid-configuration');
    expect(discovery.status, discovery.body).toBe(200);
    const issuer = (JSON.parse(discovery.body) as { issuer: string }).issuer;

    // The STS, in a namespace the webhook does not select, from the webhook's image.
    stsNamespace = await createNamespace(`sts-${uniqueSuffix()}`, {});
    stsUrl = `http://sts.${stsNamespace}.svc:4566`;
    trusted = await readerWorkspace('sdk');
    elsewhere = await readerWorkspace('sdk-other');

    // The role trusts trusted/reader only, as `trust-policy` writes it.
    const policy = ok(
      await cli([
        'trust-policy',
        '--account',
        ACCOUNT,
        '--issuer',
        issuer,
        '--namespace',
        trusted.namespace,
        '--service-account',
        'reader',
      ]),
    );
    await core.createNamespacedConfigMap({
      namespace: stsNamespace,
      body: {
        metadata: { name: 'roles' },
        data: { 'roles.json': JSON.stringify([{ arn: ROLE, trustPolicy: JSON.parse(policy) as unknown }]) },
      },
    });
    const { ctx } = kind();
    const apiAccess = '/var/run/secrets/kubernetes.io/serviceaccount';
    const stsSpec: V1PodSpec = {
      securityContext: NON_ROOT,
      containers: [
        {
          name: 'sts',
          image: `${ctx.image.repository}:${ctx.image.tag}`,
          imagePullPolicy: 'IfNotPresent',
          // The image's entrypoint is the CLI.
          args: [
            'sts',
            '--host=0.0.0.0',
            '--port=4566',
            `--issuer=${issuer}`,
            // kube-apiserver serves its JWKS to ServiceAccounts (system:service-account-issuer-discovery).
            '--jwks-url=https://kubernetes.default.svc/openid/v1/jwks',
            `--jwks-ca=${apiAccess}/ca.crt`,
            `--jwks-token-file=${apiAccess}/token`,
            '--roles=/etc/sts/roles.json',
          ],
          ports: [{ containerPort: 4566 }],
          readinessProbe: { tcpSocket: { port: 4566 }, periodSeconds: 1 },
          volumeMounts: [{ name: 'roles', mountPath: '/etc/sts', readOnly: true }],
        },
      ],
      volumes: [{ name: 'roles', configMap: { name: 'roles' } }],
    };
    await core.createNamespacedService({
      namespace: stsNamespace,
      body: {
        metadata: { name: 'sts' },
        spec: { selector: { app: 'sts' }, ports: [{ port: 4566, targetPort: 4566 }] },
      },
    });
    await runDeployment(stsNamespace, 'sts', 1, stsSpec);
    await awaitReachableInCluster(
      stsNamespace,
      new URL(stsUrl).hostname,
      4566,
      stsSpec.containers[0]!.image!,
    );
  });

  /** Runs the SDK client image as `reader` in `workspace`, with no environment of its own. */
  async function runSdkClient(workspace: Workspace): Promise<{
    pod: V1Pod;
    phase: string;
    report: {
      ok: boolean;
      env: Record<string, string>;
      accessKeyId?: string;
      expiration?: string;
      error?: { name: string; message: string };
    };
  }> {
    const pod = await core.createNamespacedPod({
      namespace: workspace.namespace,
      body: {
        metadata: { name: 'sdk' },
        spec: {
          serviceAccountName: 'reader',
          restartPolicy: 'Never',
          securityContext: NON_ROOT,
          containers: [{ name: 'sdk', image, imagePullPolicy: 'IfNotPresent' }],
        },
      },
    });
    const phase = await waitForPodEnd(workspace.namespace, 'sdk');
    const log = await core.readNamespacedPodLog({ namespace: workspace.namespace, name: 'sdk' });
    const line = log.split('\n').find((l) => l.startsWith('{'));
    if (line === undefined) throw new Error(`the SDK client printed no JSON line:\n${log}`);
    return { pod, phase, report: JSON.parse(line) };
  }

  it('assumes the role with the projected token, from exactly the injected environment', async () => {
    const { pod, phase, report } = await runSdkClient(trusted);
    const injected = {
      [ENV.endpointUrlSts]: stsUrl,
      [ENV.defaultRegion]: 'eu-west-1',
      [ENV.region]: 'eu-west-1',
      [ENV.roleArn]: ROLE,
      [ENV.webIdentityTokenFile]: `${DEFAULT_TOKEN_MOUNT_PATH}/${TOKEN_FILE}`,
    };
    // The container declared no environment: all of it is the webhook's.
    const container = allContainers(pod)[0]!;
    expect(Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]))).toEqual(injected);
    expect(report.env).toEqual(injected);

    expect(report.error).toBeUndefined();
    expect(phase).toBe('Succeeded');
    expect(report.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(new Date(report.expiration!).getTime()).toBeGreaterThan(Date.now() + 3000_000);
    expect((await decisions()).at(-1)).toMatchObject({
      decision: 'allowed',
      role: ROLE,
      subject: `system:serviceaccount:${trusted.namespace}:reader`,
    });
  });

  it('refuses the same ServiceAccount name in another namespace: AccessDenied on :sub', async () => {
    const { phase, report } = await runSdkClient(elsewhere);
    expect(report.env[ENV.roleArn]).toBe(ROLE);
    expect(report.env[ENV.endpointUrlSts]).toBe(stsUrl);
    expect(phase).toBe('Failed');
    expect(report.ok).toBe(false);
    expect(JSON.stringify(report.error)).toContain('AccessDenied');
    expect(report.error?.message).toContain('Not authorized to perform sts:AssumeRoleWithWebIdentity');
    const decision = (await decisions()).at(-1);
    expect(decision).toMatchObject({
      decision: 'denied',
      code: 'AccessDenied',
      role: ROLE,
      subject: `system:serviceaccount:${elsewhere.namespace}:reader`,
    });
    expect(String(decision?.['reason'])).toContain(':sub');
  });
});
