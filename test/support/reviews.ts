import type { V1Pod } from '@kubernetes/client-node';

/** An AdmissionReview as kube-apiserver sends it for a Pod CREATE. */
export function podReview(pod: V1Pod, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'default',
      operation: 'CREATE',
      userInfo: { username: 'admin', groups: ['system:masters', 'system:authenticated'] },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
      ...overrides,
    },
  };
}

export const ROLE_ARN = 'arn:aws:iam::111122223333:role/app';

export const appPod = (serviceAccountName = 'app'): V1Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'app', namespace: 'default' },
  spec: { serviceAccountName, containers: [{ name: 'app', image: 'busybox' }] },
});

export const SERVICE_ACCOUNTS_YAML = `
apiVersion: v1
kind: ServiceAccount
metadata:
  name: app
  namespace: default
  annotations:
    eks.amazonaws.com/role-arn: ${ROLE_ARN}
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: default, namespace: default }
`;
