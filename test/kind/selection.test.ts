// Which Pods kube-apiserver sends to the webhook at all. The webhook's own Pods, kube-system's and
// the release namespace's are never sent (so a broken webhook can always be fixed, and it never
// waits on itself), nor Pods with the skip label. Each case is made to look like one the webhook
// would mutate (an annotated ServiceAccount, a namespace carrying the release's label), so only
// the exclusion keeps it away; "never sent" is read from the webhook replicas' review counters,
// which must not move, and a control Pod shows that they do move for a selected Pod.
import type { V1Pod } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { deferCleanup, useKind } from './harness/cluster.js';
import {
  installRelease,
  reviewCounts,
  upgradeRelease,
  waitForReadyWebhooks,
  type Release,
} from './harness/releases.js';
import {
  createServiceAccount,
  createWorkspace,
  parkedPod,
  ROLE_ARN_KEY,
  roleArn,
  type Workspace,
  waitUntilRouted,
} from './harness/workloads.js';
import { isMutated } from '../e2e/harness/inspect.js';
import { SKIP_LABEL } from '../../src/vocabulary.js';

const { core } = useKind();
let release: Release;
let workspace: Workspace;

const total = (counts: Map<string, number>): number => [...counts.values()].reduce((a, b) => a + b, 0);

beforeAll(async () => {
  // The webhook's own ServiceAccount has a role too: were its Pods sent, they would be mutated.
  release = await installRelease('selection', {
    serviceAccount: { annotations: { [ROLE_ARN_KEY]: roleArn('the-webhook-itself') } },
    mutatingWebhook: { failurePolicy: 'Fail' },
  });
  workspace = await createWorkspace(release, 'selected');
  await waitUntilRouted(workspace);
});

/**
 * Runs `create` and returns how many reviews the release's replicas (all ready, none terminating,
 * so every review is counted) answered meanwhile.
 */
async function reviewsDuring(create: () => Promise<V1Pod[]>): Promise<{ reviews: number; pods: V1Pod[] }> {
  const replicas = await waitForReadyWebhooks(release, 2);
  const before = await reviewCounts(replicas);
  const pods = await create();
  const after = await reviewCounts(replicas);
  return { reviews: total(after) - total(before), pods };
}

async function controlPodIsReviewed(): Promise<void> {
  const { reviews, pods } = await reviewsDuring(async () => [
    await core.createNamespacedPod({
      namespace: workspace.namespace,
      body: parkedPod(`control-${Date.now()}`, workspace.serviceAccount),
    }),
  ]);
  expect(isMutated(pods[0]!)).toBe(true);
  expect(reviews).toBeGreaterThanOrEqual(1);
}

describe('Pods never sent to the webhook', () => {
  it('its own Pods: a new replica, whose ServiceAccount has a role, is neither reviewed nor mutated', async () => {
    const { reviews } = await reviewsDuring(async () => {
      // A third replica is created while both others serve: nothing else changes.
      await upgradeRelease(release, { replicaCount: 3 });
      return [];
    });
    const replicas = await waitForReadyWebhooks(release, 3);
    expect(reviews).toBe(0);
    for (const pod of replicas) expect(isMutated(pod), pod.metadata!.name).toBe(false);
    await upgradeRelease(release, { replicaCount: 2 });
    await controlPodIsReviewed();
  });

  it('the release namespace, though it carries the selected label', async () => {
    await createServiceAccount(release.namespace, 'app', { [ROLE_ARN_KEY]: roleArn('release-ns') });
    const { reviews, pods } = await reviewsDuring(async () => [
      await core.createNamespacedPod({ namespace: release.namespace, body: parkedPod('app', 'app') }),
    ]);
    expect(reviews).toBe(0);
    expect(isMutated(pods[0]!)).toBe(false);
    await controlPodIsReviewed();
  });

  it('kube-system, even labelled for the release, with an annotated ServiceAccount', async () => {
    const name = 'kube-system';
    const namespace = await core.readNamespace({ name });
    namespace.metadata!.labels = {
      ...namespace.metadata!.labels,
      [release.selector.key]: release.selector.value,
    };
    await core.replaceNamespace({ name, body: namespace });
    const sa = `piw-test-${release.name}`;
    deferCleanup(async () => {
      await core
        .deleteNamespacedPod({ namespace: name, name: sa, gracePeriodSeconds: 0 })
        .catch(() => undefined);
      await core.deleteNamespacedServiceAccount({ namespace: name, name: sa }).catch(() => undefined);
      const current = await core.readNamespace({ name });
      const restored = { ...current.metadata!.labels };
      delete restored[release.selector.key];
      await core.replaceNamespace({
        name,
        body: { ...current, metadata: { ...current.metadata, labels: restored } },
      });
    });
    await createServiceAccount(name, sa, { [ROLE_ARN_KEY]: roleArn('kube-system') });
    const { reviews, pods } = await reviewsDuring(async () => [
      await core.createNamespacedPod({ namespace: name, body: parkedPod(sa, sa) }),
    ]);
    expect(reviews).toBe(0);
    expect(isMutated(pods[0]!)).toBe(false);
    await controlPodIsReviewed();
  });

  it('a Pod with the skip label, in a selected namespace', async () => {
    const { reviews, pods } = await reviewsDuring(async () => [
      await core.createNamespacedPod({
        namespace: workspace.namespace,
        body: parkedPod('skipped', workspace.serviceAccount, { [SKIP_LABEL]: 'true' }),
      }),
    ]);
    expect(reviews).toBe(0);
    expect(isMutated(pods[0]!)).toBe(false);
    await controlPodIsReviewed();
  });
});
