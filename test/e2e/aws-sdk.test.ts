// The whole IRSA flow without AWS: the webhook injects the identity into a Pod stored by
// kube-apiserver, AWS_ENDPOINT_URL_STS included (`serve --sts-endpoint`); the test plays the kubelet
// (a TokenRequest with the projected volume's audience and lifetime, written where the Pod's env
// says); the real AWS SDK, run with exactly that container's env, exchanges the token with the real
// `sts` command, which verifies it against the API server's own JWKS (fetched with a
// ServiceAccount's token, as an in-cluster STS would) and the role's trust policy as printed by
// `trust-policy`.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { addDiagnostics, cluster, deferCleanup, uniqueSuffix, useE2E } from './harness/clients.js';
import {
  createPod,
  createServiceAccount,
  createTestNamespace,
  podManifest,
  roleArn,
  type TestNamespace,
} from './harness/objects.js';
import { allContainers } from './harness/inspect.js';
import { registerPodIdentityWebhook } from './harness/registration.js';
import { ManagedProcess } from './harness/processes.js';
import { cliPath, startWebhook } from './harness/webhook.js';
import { waitFor } from '../support/wait.js';
import { repoRoot } from '../support/paths.js';
import { ENV, STS_REGIONAL, TOKEN_FILE, TOKEN_VOLUME_NAME } from '../../src/vocabulary.js';

const { ctx, core } = useE2E();
const ROLE = roleArn('sdk-reader');
const ACCOUNT = ROLE.split(':')[4]!;
let ns: TestNamespace;
let elsewhere: TestNamespace;
let mountPath: string;
let sts: StsProcess;

interface StsProcess {
  url: string;
  process: ManagedProcess;
  /** The decisions it logged (its JSON lines with msg AssumeRoleWithWebIdentity). */
  decisions(): Array<Record<string, unknown>>;
}

function run(
  args: string[],
  env?: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { env, cwd: repoRoot, timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? 1 : 0, stdout, stderr }),
    );
  });
}

function jsonLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** `pod-identity-webhook sts` on a free port, its JWKS from the API server, stopped after the file. */
async function startSts(rolesFile: string, jwksTokenFile: string): Promise<StsProcess> {
  const name = `sts-${uniqueSuffix()}`;
  const child = await ManagedProcess.start({
    name,
    command: process.execPath,
    args: [
      cliPath,
      'sts',
      '--port',
      '0',
      '--issuer',
      ctx.serviceAccount.issuer,
      '--jwks-url',
      ctx.serviceAccount.jwksUri,
      '--jwks-ca',
      ctx.clusterCa.cert,
      '--jwks-token-file',
      jwksTokenFile,
      '--roles',
      rolesFile,
    ],
    cwd: repoRoot,
    logFile: join(ctx.logs.dir, `${name}.log`),
    pidDir: ctx.pidDir,
  });
  const removeDiagnostics = addDiagnostics(() => `${name}: log ${child.logFile}\n${child.tail(25)}`);
  deferCleanup(async () => {
    await child.stop();
    removeDiagnostics();
  });
  const url = await waitFor(
    `${name} to log where it serves`,
    () =>
      jsonLines(child.output()).find((line) => line['msg'] === 'pod-identity-webhook sts serving')?.['url'],
    { intervalMs: 50, abortIf: () => child.exitReason(), hint: () => child.tail(25) },
  );
  return {
    url: String(url),
    process: child,
    decisions: () => jsonLines(child.output()).filter((line) => line['msg'] === 'AssumeRoleWithWebIdentity'),
  };
}

beforeAll(async () => {
  // A mount path this machine may write to: the test stands in for the kubelet that would mount it.
  // Under the run directory, which the harness prunes: the tokens written there are real ones.
  const dir = await mkdtemp(join(ctx.runDir, 'sdk-'));
  mountPath = join(dir, 'serviceaccount');
  ns = await createTestNamespace('sdk');
  elsewhere = await createTestNamespace('sdk-other');
  await createServiceAccount(ns.name, 'reader', { roleArn: ROLE });
  await createServiceAccount(elsewhere.name, 'reader', { roleArn: ROLE });

  // The role trusts ns/reader only, as `trust-policy` writes it.
  const policy = await run([
    cliPath,
    'trust-policy',
    '--account',
    ACCOUNT,
    '--issuer',
    ctx.serviceAccount.issuer,
    '--namespace',
    ns.name,
    '--service-account',
    'reader',
  ]);
  expect(policy.code, policy.stderr).toBe(0);
  const rolesFile = join(dir, 'roles.json');
  await writeFile(
    rolesFile,
    JSON.stringify([{ arn: ROLE, trustPolicy: JSON.parse(policy.stdout) as unknown }]),
  );

  // kube-apiserver serves /openid/v1/jwks to ServiceAccounts (system:service-account-issuer-discovery).
  await createServiceAccount(ns.name, 'jwks-reader');
  const reader = await core.createNamespacedServiceAccountToken({
    name: 'jwks-reader',
    namespace: ns.name,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const jwksTokenFile = join(dir, 'jwks-reader.token');
  await writeFile(jwksTokenFile, reader.status!.token);
  sts = await startSts(rolesFile, jwksTokenFile);

  const webhook = await startWebhook({
    name: 'aws-sdk',
    args: [
      '--token-mount-path',
      mountPath,
      '--aws-default-region',
      'eu-west-1',
      '--sts-regional-endpoint',
      '--sts-endpoint',
      sts.url,
    ],
  });
  await registerPodIdentityWebhook({ endpoint: webhook, namespace: ns });
  await registerPodIdentityWebhook({ endpoint: webhook, namespace: elsewhere });
});

/**
 * Creates a Pod for `namespace/reader`, plays the kubelet for its projected token, and runs the AWS
 * SDK's default credential chain with exactly the container's env.
 */
async function sdkInPod(namespace: string): Promise<{
  env: Record<string, string>;
  token: string;
  result: { code: number; stdout: string; stderr: string };
}> {
  const stored: V1Pod = await createPod(namespace, podManifest('sdk', { serviceAccountName: 'reader' }));
  const container = allContainers(stored)[0]!;
  const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? '']));

  // The kubelet's part: mint the projected token and put it where the mount puts it.
  const projection = stored.spec?.volumes?.find((v) => v.name === TOKEN_VOLUME_NAME)?.projected?.sources?.[0]
    ?.serviceAccountToken;
  const mount = container.volumeMounts?.find((m) => m.name === TOKEN_VOLUME_NAME);
  expect(mount?.mountPath).toBe(mountPath);
  const minted = await cluster().core.createNamespacedServiceAccountToken({
    name: 'reader',
    namespace,
    body: { spec: { audiences: [projection!.audience!], expirationSeconds: projection!.expirationSeconds } },
  });
  const token = minted.status!.token;
  await mkdir(mountPath, { recursive: true });
  await writeFile(join(mountPath, projection!.path), token);

  const result = await run([join(repoRoot, 'test/e2e/harness/aws-sdk-credentials.mjs')], {
    ...env,
    PATH: process.env['PATH'] ?? '',
    // Keep the SDK away from this machine's own AWS configuration and instance metadata.
    AWS_CONFIG_FILE: '/nonexistent',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
    AWS_EC2_METADATA_DISABLED: 'true',
  });
  return { env, token, result };
}

describe('the AWS SDK in a mutated Pod, against the local sts', () => {
  it('assumes the ServiceAccount’s role with the projected token, using only the injected env', async () => {
    const { env, result } = await sdkInPod(ns.name);
    expect(env).toEqual({
      [ENV.stsRegionalEndpoints]: STS_REGIONAL,
      [ENV.defaultRegion]: 'eu-west-1',
      [ENV.region]: 'eu-west-1',
      [ENV.endpointUrlSts]: sts.url,
      [ENV.roleArn]: ROLE,
      [ENV.webIdentityTokenFile]: `${mountPath}/${TOKEN_FILE}`,
    });

    expect(result.code, result.stderr).toBe(0);
    const credentials = JSON.parse(result.stdout) as { accessKeyId: string; expiration: string };
    expect(credentials.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(new Date(credentials.expiration).getTime()).toBeGreaterThan(Date.now() + 3000_000);
    expect(sts.decisions().at(-1)).toMatchObject({
      decision: 'allowed',
      role: ROLE,
      subject: `system:serviceaccount:${ns.name}:reader`,
    });
  });

  it('refuses a ServiceAccount of the same name in another namespace: AccessDenied naming the :sub condition', async () => {
    const { env, result } = await sdkInPod(elsewhere.name);
    expect(env[ENV.roleArn]).toBe(ROLE);
    expect(env[ENV.endpointUrlSts]).toBe(sts.url);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('AccessDenied');
    expect(result.stderr).toContain('Not authorized to perform sts:AssumeRoleWithWebIdentity');
    const provider = ctx.serviceAccount.issuer.replace(/^https:\/\//, '');
    expect(result.stderr).toContain(`${provider}:sub`);
    const decision = sts.decisions().at(-1);
    expect(decision).toMatchObject({
      decision: 'denied',
      code: 'AccessDenied',
      role: ROLE,
      subject: `system:serviceaccount:${elsewhere.name}:reader`,
    });
    expect(String(decision?.['reason'])).toContain(`${provider}:sub`);
  });
});
