// Every object the chart renders, for the default values and each ci/ values file, is created in
// the real kube-apiserver with strict field validation and accepted: the manifests are valid
// Kubernetes objects (no unknown or duplicate field, right types, admissible), not just YAML. The
// cert-manager and prometheus-operator CRDs are installed first, so Certificate, Issuer,
// ServiceMonitor and PrometheusRule are checked against their real schemas too.
import { beforeAll, describe, expect, it } from 'vitest';
import { uniqueSuffix, useE2E } from '../e2e/harness/clients.js';
import {
  apiResource,
  createNamespace,
  createStrict,
  deleteObject,
  describeObject,
  inInstallOrder,
  installThirdPartyCrds,
  render,
  statusMessage,
  valuesCases,
  warningsOf,
  type KubeObject,
} from './harness.js';

const { ctx } = useE2E();

beforeAll(async () => {
  const kinds = await installThirdPartyCrds();
  expect(kinds).toEqual(
    expect.arrayContaining([
      'Certificate.cert-manager.io/v1',
      'Issuer.cert-manager.io/v1',
      'ServiceMonitor.monitoring.coreos.com/v1',
      'PrometheusRule.monitoring.coreos.com/v1',
    ]),
  );
}, 120_000);

/** Renders for the API server's version, in a fresh namespace under a unique release name. */
async function renderFresh(files: string[]): Promise<{ namespace: string; objects: KubeObject[] }> {
  const suffix = uniqueSuffix();
  const namespace = `chart-${suffix}`;
  // Cluster-scoped objects (ClusterRole, MutatingWebhookConfiguration) are named after the
  // release, so a release name per case keeps them apart.
  const objects = await render({
    release: `piw-${suffix}`,
    namespace,
    files,
    kubeVersion: ctx.apiServer.version,
  });
  await createNamespace(namespace);
  return { namespace, objects };
}

describe('rendered objects in the real kube-apiserver', () => {
  it.each(valuesCases())(
    '$name: every object is created with fieldValidation=Strict, without warnings',
    async ({ files }) => {
      const { namespace, objects } = await renderFresh(files);
      const problems: string[] = [];
      const created: KubeObject[] = [];
      try {
        for (const object of inInstallOrder(objects)) {
          const { namespaced } = await apiResource(object.apiVersion, object.kind);
          if (
            namespaced &&
            object.metadata.namespace !== undefined &&
            object.metadata.namespace !== namespace
          ) {
            problems.push(`${describeObject(object)}: not in the release namespace ${namespace}`);
          }
          const response = await createStrict(object, namespace);
          if (response.status !== 201) {
            problems.push(`${describeObject(object)}: HTTP ${response.status} ${statusMessage(response)}`);
            continue;
          }
          created.push(object);
          for (const warning of warningsOf(response))
            problems.push(`${describeObject(object)}: warning ${warning}`);
        }
        expect(problems).toEqual([]);
        expect(created.length).toBe(objects.length);
      } finally {
        for (const object of created.reverse()) await deleteObject(object, namespace);
      }
    },
  );

  it('strict validation has teeth: a rendered Deployment with one unknown field is refused', async () => {
    const { namespace, objects } = await renderFresh([]);
    const deployment = objects.find((o) => o.kind === 'Deployment');
    expect(deployment).toBeDefined();
    const spec = deployment!.spec as { template: { spec: { containers: Array<Record<string, unknown>> } } };
    spec.template.spec.containers[0]!.imagePullPolicyy = 'Always';
    const response = await createStrict(deployment!, namespace);
    expect(response.status).toBe(400); // BadRequest: strict decoding error
    expect(statusMessage(response)).toContain(
      'unknown field "spec.template.spec.containers[0].imagePullPolicyy"',
    );
  });
});
