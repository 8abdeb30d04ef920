// With failurePolicy Fail, Pod creation depends on the webhook answering. While Pods are created
// steadily (5 per second for 60 s), a `helm upgrade` rolls both replicas, then a webhook Pod is
// evicted as a node drain would: not one create may fail and every Pod must come back mutated.
// That takes the chart's parts together: maxUnavailable 0 and the readiness gate (a new replica
// gets traffic only once it answers), the shutdown delay (an old one keeps answering until the
// Service has dropped it), and the PodDisruptionBudget (a second eviction is refused while the
// first replica is being replaced).
import { V1Eviction } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { addDiagnostics, deferCleanup, useKind } from './harness/cluster.js';
import { installRelease, upgradeRelease, waitForReadyWebhooks, type Release } from './harness/releases.js';
import {
  createWorkspace,
  deleteParkedPods,
  loadReached,
  startSteadyLoad,
  type Workspace,
  waitUntilRouted,
} from './harness/workloads.js';
import { waitFor } from '../support/wait.js';

const { core, policy } = useKind();
let release: Release;
let workspace: Workspace;

beforeAll(async () => {
  release = await installRelease('availability', { mutatingWebhook: { failurePolicy: 'Fail' } });
  workspace = await createWorkspace(release, 'load');
  await waitUntilRouted(workspace);
  deferCleanup(() => deleteParkedPods(workspace.namespace));
});

/** Evicts a Pod through the Eviction API (what `kubectl drain` does); returns the HTTP outcome. */
async function evict(namespace: string, name: string): Promise<{ code: number; message: string }> {
  const body = new V1Eviction();
  body.metadata = { name, namespace };
  try {
    await core.createNamespacedPodEviction({ name, namespace, body });
    return { code: 201, message: 'evicted' };
  } catch (error) {
    const e = error as { code?: number; body?: unknown };
    return { code: e.code ?? 0, message: typeof e.body === 'string' ? e.body : JSON.stringify(e.body) };
  }
}

describe('the webhook under steady Pod creation, with failurePolicy Fail', () => {
  it('a rolling upgrade and an eviction fail no create and leave no Pod unmutated', async () => {
    const timeline: string[] = [];
    const started = Date.now();
    const note = (what: string): void => void timeline.push(`${Date.now() - started} ms: ${what}`);
    const before = (await waitForReadyWebhooks(release, 2)).map((p) => p.metadata!.name!);

    const load = startSteadyLoad(workspace, { perSecond: 5, durationMs: 60_000, prefix: 'steady' });
    addDiagnostics(
      () => `timeline:\n  ${timeline.join('\n  ')}\nload: ${JSON.stringify(load.result).slice(0, 4000)}`,
    );
    await loadReached(load, 15);
    note('helm upgrade (a new Pod template: every replica is replaced)');
    await upgradeRelease(release, {
      podAnnotations: { 'kind.pod-identity-webhook.test/rollout': String(Date.now()) },
    });
    const upgraded = (await waitForReadyWebhooks(release, 2)).map((p) => p.metadata!.name!);
    note(`upgraded: ${before.join(', ')} -> ${upgraded.join(', ')}`);
    expect(upgraded.filter((name) => before.includes(name))).toEqual([]);

    // The disruption controller counts the new replicas before the budget allows an eviction.
    await waitFor(
      'the PodDisruptionBudget to allow one disruption',
      async () => {
        const { status } = await policy.readNamespacedPodDisruptionBudget({
          name: release.fullname,
          namespace: release.namespace,
        });
        return status?.currentHealthy === 2 && status.disruptionsAllowed === 1 ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const [first, second] = upgraded as [string, string];
    const evicted = await evict(release.namespace, first);
    note(`evict ${first}: ${evicted.code}`);
    expect(evicted.code, evicted.message).toBe(201);
    // The budget (maxUnavailable 1) is spent until the replacement is ready.
    const refused = await evict(release.namespace, second);
    note(`evict ${second}: ${refused.code}`);
    expect(refused.code, refused.message).toBe(429);
    const replaced = (await waitForReadyWebhooks(release, 2)).map((p) => p.metadata!.name!);
    note(`after the eviction: ${replaced.join(', ')}`);
    expect(replaced).not.toContain(first);
    expect(replaced).toContain(second);
    // The disruptions ended inside the load window.
    expect(load.result.created + load.result.failures.length).toBeLessThan(300);

    const result = await load.done;
    note(`load done: ${result.created} created, ${result.failures.length} failed`);
    console.log(`[kind] availability timeline:\n  ${timeline.join('\n  ')}`);
    expect(result.failures).toEqual([]);
    expect(result.unmutated).toEqual([]);
    expect(result.created).toBe(300);
  });
});
