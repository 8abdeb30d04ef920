// The laptop path, as the README's "Try it on kind" has users run it: `hack/kind/kind.sh up`, run
// again on the cluster it made (it must be idempotent: reuse the cluster, rebuild and reload the
// image, upgrade the release, rerun the demo), prints the demo Pod's injected environment and the
// token claims the Pod read itself; the demo Pod (hack/kind/manifests/demo.yaml) ran as non-root
// and passed every check.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useKind, watchNamespace } from './harness/cluster.js';
import { kindEnv, run } from './harness/commands.js';
import { tokenReport } from './harness/workloads.js';
import { injectedRoleArn } from '../e2e/harness/inspect.js';
import { repoRoot } from '../support/paths.js';
import { DEFAULT_TOKEN_AUDIENCE, DEFAULT_TOKEN_MOUNT_PATH, ENV, TOKEN_FILE } from '../../src/vocabulary.js';

const { core } = useKind();
const NAMESPACE = 'irsa-demo';
const ROLE = 'arn:aws:iam::111122223333:role/irsa-demo';

describe('hack/kind/kind.sh up, again', () => {
  it('reuses the cluster and prints the demo Pod’s injected environment and token claims', async () => {
    watchNamespace(NAMESPACE);
    watchNamespace('pod-identity-webhook');
    // A second run rebuilds from Docker's cache and reloads nothing new: well under a minute. The
    // limit also stops a runaway script before the test's own timeout (which would leave it running).
    const result = await run('bash', [join(repoRoot, 'hack/kind/kind.sh'), 'up'], {
      env: kindEnv(),
      timeoutMs: 150_000,
    });
    expect(result.code, `${result.stderr}\n${result.stdout}`).toBe(0);
    expect(result.stderr).toContain('reusing cluster');
    expect(result.stdout).toContain(`${ENV.roleArn}=${ROLE}`);
    expect(result.stdout).toContain(`${ENV.webIdentityTokenFile}=${DEFAULT_TOKEN_MOUNT_PATH}/${TOKEN_FILE}`);
    expect(result.stdout).toContain(`system:serviceaccount:${NAMESPACE}:app`);
    expect(result.stdout).toContain(DEFAULT_TOKEN_AUDIENCE);

    const pod = await core.readNamespacedPod({ namespace: NAMESPACE, name: 'app' });
    expect(pod.status?.phase).toBe('Succeeded');
    expect(injectedRoleArn(pod)).toBe(ROLE);
    const report = await tokenReport(NAMESPACE, 'app');
    expect(report.ok, JSON.stringify(report)).toBe(true);
    expect(report.user.uid).toBe(65532);
    expect(report.token?.lifetimeSeconds).toBe(86400);
  });
});
