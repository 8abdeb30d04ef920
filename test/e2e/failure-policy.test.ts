// What kube-apiserver does when the webhook is down, per failurePolicy, and proof that Pods with the
// skip label are never sent to the webhook (objectSelector).
import { beforeAll, describe, expect, it } from 'vitest';
import { useE2E } from './harness/clients.js';
import {
  createPod,
  createServiceAccount,
  createTestNamespace,
  expectApiError,
  podManifest,
  readPod,
  roleArn,
  type TestNamespace,
} from './harness/objects.js';
import { isMutated } from './harness/inspect.js';
import { registerPodIdentityWebhook } from './harness/registration.js';
import { startWebhook } from './harness/webhook.js';
import { SKIP_LABEL } from '../../src/vocabulary.js';

useE2E();

const IGNORE_WEBHOOK = 'ignore.pod-identity-webhook.amazonaws.com';
const FAIL_WEBHOOK = 'fail.pod-identity-webhook.amazonaws.com';
let ignoreNs: TestNamespace;
let failNs: TestNamespace;
let webhookUrl: string;

beforeAll(async () => {
  const webhook = await startWebhook({ name: 'failure-policy' });
  webhookUrl = webhook.url;
  ignoreNs = await createTestNamespace('ignore');
  failNs = await createTestNamespace('fail');
  for (const ns of [ignoreNs, failNs])
    await createServiceAccount(ns.name, 'app', { roleArn: roleArn('app') });
  // Both registrations are shown to work while the webhook runs; then it is stopped.
  await registerPodIdentityWebhook({
    endpoint: webhook,
    namespace: ignoreNs,
    name: IGNORE_WEBHOOK,
    failurePolicy: 'Ignore',
  });
  await registerPodIdentityWebhook({
    endpoint: webhook,
    namespace: failNs,
    name: FAIL_WEBHOOK,
    failurePolicy: 'Fail',
  });
  const exit = await webhook.stop();
  expect(exit).toEqual({ code: 0, signal: null }); // SIGTERM stops it cleanly
});

describe('with the webhook stopped', () => {
  it('failurePolicy Ignore lets the Pod through unchanged', async () => {
    const created = await createPod(ignoreNs.name, podManifest('let-through', { serviceAccountName: 'app' }));
    expect(isMutated(created)).toBe(false);
    expect(isMutated(await readPod(ignoreNs.name, 'let-through'))).toBe(false);
  });

  it("failurePolicy Fail rejects the Pod with the API server's webhook error", async () => {
    const error = await expectApiError(
      createPod(failNs.name, podManifest('rejected', { serviceAccountName: 'app' })),
    );
    expect(error.code).toBe(500);
    expect(error.message).toContain(`failed calling webhook "${FAIL_WEBHOOK}"`);
    expect(error.message).toContain(webhookUrl);
    expect(error.message).toMatch(/connection refused/);
    expect((await expectApiError(readPod(failNs.name, 'rejected'))).code).toBe(404);
  });

  it('failurePolicy Fail still admits a Pod with the skip label: it is never sent to the webhook', async () => {
    const pod = podManifest('skipped', { serviceAccountName: 'app', labels: { [SKIP_LABEL]: 'true' } });
    const created = await createPod(failNs.name, pod);
    expect(isMutated(created)).toBe(false);
    expect(isMutated(await readPod(failNs.name, 'skipped'))).toBe(false);
  });
});
