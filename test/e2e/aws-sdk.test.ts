// The whole IRSA flow without AWS: the webhook injects the identity into a Pod stored by
// kube-apiserver; the test plays the kubelet (a TokenRequest with the projected volume's audience
// and lifetime, written where the Pod's env says); the real AWS SDK, run with exactly that
// container's env, exchanges the token with a loopback STS stand-in that verifies it against the
// API server's JWKS as AWS STS would.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useE2E } from './harness/clients.js';
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
import { FAKE_ACCESS_KEY_ID, startFakeSts, type FakeSts } from './harness/fake-sts.js';
import { httpsRequest } from './harness/https.js';
import { startWebhook } from './harness/webhook.js';
import { repoRoot } from '../support/paths.js';
import {
  DEFAULT_TOKEN_AUDIENCE,
  ENV,
  STS_REGIONAL,
  TOKEN_FILE,
  TOKEN_VOLUME_NAME,
} from '../../src/vocabulary.js';

const { ctx, core } = useE2E();
const ROLE = roleArn('sdk-reader');
let ns: TestNamespace;
let mountPath: string;
let sts: FakeSts | undefined;

beforeAll(async () => {
  // A mount path this machine may write to: the test stands in for the kubelet that would mount it.
  // Under the run directory, which the harness prunes: the token written there is a real one.
  mountPath = join(await mkdtemp(join(ctx.runDir, 'sdk-')), 'serviceaccount');
  const webhook = await startWebhook({
    name: 'aws-sdk',
    args: ['--token-mount-path', mountPath, '--aws-default-region', 'eu-west-1', '--sts-regional-endpoint'],
  });
  ns = await createTestNamespace('sdk');
  await createServiceAccount(ns.name, 'reader', { roleArn: ROLE });
  await registerPodIdentityWebhook({ endpoint: webhook, namespace: ns });
});
afterAll(() => sts?.close());

async function jwks(): Promise<JSONWebKeySet> {
  const response = await httpsRequest({
    url: ctx.serviceAccount.jwksUri,
    caFile: ctx.clusterCa.cert,
    clientCert: ctx.admin,
    headers: { accept: 'application/jwk-set+json' },
  });
  return JSON.parse(response.body) as JSONWebKeySet;
}

function runSdk(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(repoRoot, 'test/e2e/harness/aws-sdk-credentials.mjs')],
      { env, cwd: repoRoot, timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error ? 1 : 0, stdout, stderr }),
    );
  });
}

describe('the AWS SDK in a mutated Pod', () => {
  it('assumes the ServiceAccount’s role with the projected token, using only the injected env', async () => {
    const stored = await createPod(ns.name, podManifest('sdk', { serviceAccountName: 'reader' }));
    const container = allContainers(stored)[0]!;
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? '']));
    expect(env).toEqual({
      [ENV.stsRegionalEndpoints]: STS_REGIONAL,
      [ENV.defaultRegion]: 'eu-west-1',
      [ENV.region]: 'eu-west-1',
      [ENV.roleArn]: ROLE,
      [ENV.webIdentityTokenFile]: `${mountPath}/${TOKEN_FILE}`,
    });

    // The kubelet's part: mint the projected token and put it where the mount puts it.
    const projection = stored.spec?.volumes?.find((v) => v.name === TOKEN_VOLUME_NAME)?.projected
      ?.sources?.[0]?.serviceAccountToken;
    const mount = container.volumeMounts?.find((m) => m.name === TOKEN_VOLUME_NAME);
    expect(mount?.mountPath).toBe(mountPath);
    const minted = await core.createNamespacedServiceAccountToken({
      name: 'reader',
      namespace: ns.name,
      body: {
        spec: { audiences: [projection!.audience!], expirationSeconds: projection!.expirationSeconds },
      },
    });
    const token = minted.status!.token;
    await mkdir(mountPath, { recursive: true });
    await writeFile(join(mountPath, projection!.path), token);

    sts = await startFakeSts({
      issuer: ctx.serviceAccount.issuer,
      jwks: await jwks(),
      audience: DEFAULT_TOKEN_AUDIENCE,
      subject: `system:serviceaccount:${ns.name}:reader`,
    });
    const result = await runSdk({
      ...env,
      PATH: process.env['PATH'] ?? '',
      AWS_ENDPOINT_URL_STS: sts.url,
      // Keep the SDK away from this machine's own AWS configuration and instance metadata.
      AWS_CONFIG_FILE: '/nonexistent',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
      AWS_EC2_METADATA_DISABLED: 'true',
    });

    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      accessKeyId: FAKE_ACCESS_KEY_ID,
      sessionToken: 'e2e-session-token',
    });
    expect(sts.calls).toHaveLength(1);
    expect(sts.calls[0]).toMatchObject({
      action: 'AssumeRoleWithWebIdentity',
      roleArn: ROLE,
      webIdentityToken: token,
      subject: `system:serviceaccount:${ns.name}:reader`,
    });
    expect(sts.calls[0]?.rejected).toBeUndefined();
  });
});
