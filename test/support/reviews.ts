import type { V1Pod } from '@kubernetes/client-node';
import { ANNOTATION, DEFAULT_ANNOTATION_PREFIX } from '../../src/vocabulary.js';

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

/** The ServiceAccount annotation that names the role: `eks.amazonaws.com/role-arn`. */
export const ROLE_ARN_KEY = `${DEFAULT_ANNOTATION_PREFIX}/${ANNOTATION.roleArn}`;

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
    ${ROLE_ARN_KEY}: ${ROLE_ARN}
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: default, namespace: default }
`;
