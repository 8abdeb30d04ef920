// helm lint --strict and helm template for the default values and every ci/ values file.
import { describe, expect, it } from 'vitest';
import { chartDir, ciDir, ciValuesFiles, helm, render, valuesCases } from './harness.js';

describe('the chart lints and renders', () => {
  it('has ci/ values files for its non-default combinations', () => {
    expect(ciValuesFiles(), `no *.yaml in ${ciDir}`).not.toEqual([]);
  });

  it.each(valuesCases())('helm lint --strict: $name', async ({ files }) => {
    const result = await helm(['lint', '--strict', chartDir, ...files.flatMap((f) => ['--values', f])]);
    expect(result.code, `${result.command}\n${result.stdout}${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  it.each(valuesCases())('helm template: $name renders named objects of known kinds', async ({ files }) => {
    const objects = await render({ release: 'lint', namespace: 'lint-ns', files });
    expect(objects.length).toBeGreaterThan(0);
    const kinds = new Set(objects.map((o) => o.kind));
    for (const kind of ['Deployment', 'Service', 'ServiceAccount', 'MutatingWebhookConfiguration']) {
      expect(kinds, `no ${kind} rendered`).toContain(kind);
    }
    for (const object of objects) {
      expect(object.apiVersion, JSON.stringify(object).slice(0, 200)).toMatch(
        /^([a-z0-9.-]+\/)?v\d+((alpha|beta)\d+)?$/,
      );
      expect(object.metadata?.name, `${object.kind} without a name`).toMatch(
        /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/,
      );
    }
    const names = objects.map((o) => `${o.apiVersion} ${o.kind} ${o.metadata.name}`);
    expect(
      names.filter((n, i) => names.indexOf(n) !== i),
      'rendered twice',
    ).toEqual([]);
  });

  it('renders every optional object in some values file, so each is proven', async () => {
    const kinds = new Set<string>();
    for (const { files } of valuesCases()) {
      for (const object of await render({ release: 'kinds', namespace: 'kinds-ns', files })) {
        kinds.add(`${object.kind}.${object.apiVersion}`);
      }
    }
    expect([...kinds]).toEqual(
      expect.arrayContaining([
        'PodDisruptionBudget.policy/v1',
        'NetworkPolicy.networking.k8s.io/v1',
        'ConfigMap.v1', // the Grafana dashboard
        'Secret.v1', // certificates.mode=helm
        'Issuer.cert-manager.io/v1',
        'Certificate.cert-manager.io/v1',
        'ServiceMonitor.monitoring.coreos.com/v1',
        'PrometheusRule.monitoring.coreos.com/v1',
        'Role.rbac.authorization.k8s.io/v1', // built-in certificates
        'ClusterRole.rbac.authorization.k8s.io/v1',
      ]),
    );
  });
});
