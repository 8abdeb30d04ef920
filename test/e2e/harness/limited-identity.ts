// Identities with limited rights for the webhook to run as: a ServiceAccount bound only to given
// RBAC rules, as a token kubeconfig (from the TokenRequest API).
import { join } from 'node:path';
import { AuthorizationV1Api, KubeConfig, type V1PolicyRule } from '@kubernetes/client-node';
import { cluster, deferCleanup, uniqueSuffix } from './clients.js';
import { writeKubeconfig } from './kubeconfig.js';
import { waitFor } from '../../support/wait.js';

/** Writes a kubeconfig that authenticates with a bearer token (e.g. from the TokenRequest API). */
export async function writeTokenKubeconfig(
  file: string,
  token: string,
  user = 'token-user',
): Promise<string> {
  const { ctx } = cluster();
  await writeKubeconfig(file, ctx.apiServer.url, ctx.clusterCa.cert, { name: user, credentials: { token } });
  return file;
}

export interface LimitedIdentity {
  kubeconfig: string;
  kubeConfig: KubeConfig;
}

/**
 * A ServiceAccount `name` in `namespace`, bound only to a new ClusterRole with `rules`, as a
 * token kubeconfig for the webhook to run with. Waits until the RBAC authorizer has seen the
 * binding (it learns of it through its own informer); removed after the test file.
 */
export async function limitedIdentity(
  namespace: string,
  name: string,
  rules: V1PolicyRule[],
): Promise<LimitedIdentity> {
  const { ctx, core, rbac } = cluster();
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  const roleName = `e2e-${name}-${uniqueSuffix()}`;
  await rbac.createClusterRole({ body: { metadata: { name: roleName }, rules } });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: roleName },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
      subjects: [{ kind: 'ServiceAccount', name, namespace }],
    },
  });
  deferCleanup(async () => {
    await rbac.deleteClusterRoleBinding({ name: roleName });
    await rbac.deleteClusterRole({ name: roleName });
  });
  const tokenRequest = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const kubeconfig = await writeTokenKubeconfig(
    join(ctx.runDir, `${namespace}-${name}.kubeconfig`),
    tokenRequest.status?.token ?? '',
    `system:serviceaccount:${namespace}:${name}`,
  );
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfig);
  const authorization = kubeConfig.makeApiClient(AuthorizationV1Api);
  const first = rules[0]!;
  await waitFor('the ClusterRoleBinding to take effect', async () => {
    const review = await authorization.createSelfSubjectAccessReview({
      body: { spec: { resourceAttributes: { verb: first.verbs[0], resource: first.resources?.[0] } } },
    });
    return review.status?.allowed === true ? true : undefined;
  });
  return { kubeconfig, kubeConfig };
}
