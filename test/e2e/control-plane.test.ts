// Sanity checks of the harness itself: the real control plane is what the other e2e tests assume.
import { describe, expect, it } from 'vitest';
import { useE2E } from './harness/clients.js';
import { createPod, createTestNamespace, expectApiError, podManifest } from './harness/objects.js';
import { httpsRequest } from './harness/https.js';

const { ctx } = useE2E();

describe('e2e control plane', () => {
  it('runs the pinned kube-apiserver, reporting the version it was built as', () => {
    expect(ctx.apiServer.builtVersion).toMatch(/^v1\.\d+\.\d+$/);
    expect(ctx.apiServer.version).toBe(ctx.apiServer.builtVersion);
  });

  it('stores Pods with the kube-api-access volume added by the ServiceAccount admission plugin', async () => {
    const ns = await createTestNamespace('cp');
    const stored = await createPod(ns.name, podManifest('plain'));
    expect(stored.spec?.serviceAccountName).toBe('default');
    expect(stored.spec?.volumes?.map((v) => v.name)).toEqual([
      expect.stringMatching(/^kube-api-access-[a-z0-9]{5}$/),
    ]);
  });

  it('rejects Pods whose ServiceAccount does not exist (no controller-manager creates it)', async () => {
    const ns = await createTestNamespace('cp');
    const error = await expectApiError(
      createPod(ns.name, podManifest('orphan', { serviceAccountName: 'missing' })),
    );
    expect(error.code).toBe(403);
    expect(error.message).toContain('serviceaccount "missing" not found');
  });

  it('serves OIDC discovery for its https issuer', async () => {
    const res = await httpsRequest({
      url: `${ctx.apiServer.url}/.well-known/openid-configuration`,
      caFile: ctx.clusterCa.cert,
      clientCert: ctx.admin,
    });
    expect(res.status).toBe(200);
    const discovery = JSON.parse(res.body) as { issuer: string; jwks_uri: string };
    expect(discovery).toMatchObject({
      issuer: ctx.serviceAccount.issuer,
      jwks_uri: ctx.serviceAccount.jwksUri,
    });
  });
});
