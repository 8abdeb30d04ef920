import { describe, expect, it } from 'vitest';
import {
  InvalidReviewError,
  type AdmissionRequest,
  isPodCreate,
  parseReview,
  REVIEW_API_VERSIONS,
  reviewResponse,
  validatePod,
} from '../../src/admission/review.js';
import { appPod, podReview } from '../support/reviews.js';

const withRequest = (patch: Record<string, unknown>) => {
  const review = podReview(appPod());
  return { ...review, request: { ...(review['request'] as object), ...patch } };
};

describe('parseReview', () => {
  it.each(REVIEW_API_VERSIONS)('accepts %s', (apiVersion) => {
    expect(parseReview({ ...podReview(appPod()), apiVersion }).apiVersion).toBe(apiVersion);
  });

  it.each([
    [null, 'body must be an object, got null'],
    [[], 'body must be an object, got array'],
    [
      { ...podReview(appPod()), apiVersion: 'admission.k8s.io/v2' },
      'apiVersion must be one of admission.k8s.io/v1, admission.k8s.io/v1beta1, got "admission.k8s.io/v2"',
    ],
    [
      { ...podReview(appPod()), apiVersion: undefined },
      'apiVersion must be one of admission.k8s.io/v1, admission.k8s.io/v1beta1, got nothing',
    ],
    [{ ...podReview(appPod()), kind: 'Pod' }, 'kind must be AdmissionReview, got "Pod"'],
    [{ ...podReview(appPod()), request: undefined }, 'request must be an object, got undefined'],
    [withRequest({ uid: 5 }), 'request.uid must be a string, got number'],
    [withRequest({ uid: '' }), 'request.uid must not be empty'],
    [withRequest({ kind: 'Pod' }), 'request.kind must be an object, got string'],
    [
      withRequest({ resource: { version: 'v1' } }),
      'request.resource.resource must be a string, got undefined',
    ],
    [withRequest({ operation: null }), 'request.operation must be a string, got null'],
  ])('rejects %j with a message naming the problem', (body, message) => {
    expect(() => parseReview(body)).toThrow(new InvalidReviewError(message));
  });

  // Found by the fuzzer: the message quoted the value whole, and JSON.stringify overflowed the stack (500).
  it.each([
    ['apiVersion', 'apiVersion must be one of admission.k8s.io/v1, admission.k8s.io/v1beta1, got array'],
    ['kind', 'kind must be AdmissionReview, got array'],
  ])('names %s by its type when it is too deep to print', (field, message) => {
    let deep: unknown[] = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => parseReview({ ...podReview(appPod()), [field]: deep })).toThrow(
      new InvalidReviewError(message),
    );
  });

  it('quotes at most 100 characters of a wrong apiVersion', () => {
    expect(() => parseReview({ ...podReview(appPod()), apiVersion: 'v'.repeat(1_000_000) })).toThrow(
      new InvalidReviewError(
        `apiVersion must be one of admission.k8s.io/v1, admission.k8s.io/v1beta1, got "${'v'.repeat(100)}…" (1000000 characters)`,
      ),
    );
  });
});

describe('validatePod', () => {
  it.each([
    [{ spec: 'x' }, 'o.spec must be an object, got string'],
    [{ spec: {} }, 'o.spec.containers must be an array, got undefined'],
    [{ spec: { containers: 'no' } }, 'o.spec.containers must be an array, got string'],
    [{ spec: { containers: [1] } }, 'o.spec.containers[0] must be an object, got number'],
    [{ spec: { containers: [{}] } }, 'o.spec.containers[0].name must be a string, got undefined'],
    [
      { spec: { containers: [{ name: 'a', env: {} }] } },
      'o.spec.containers[0].env must be an array, got object',
    ],
    [
      { spec: { containers: [{ name: 'a', env: [{ value: 'x' }] }] } },
      'o.spec.containers[0].env[0].name must be a string, got undefined',
    ],
    [
      { spec: { containers: [{ name: 'a', volumeMounts: [null] }] } },
      'o.spec.containers[0].volumeMounts[0] must be an object, got null',
    ],
    [{ spec: { containers: [], initContainers: {} } }, 'o.spec.initContainers must be an array, got object'],
    [{ spec: { containers: [], volumes: [[]] } }, 'o.spec.volumes[0] must be an object, got array'],
    [
      { metadata: { annotations: { a: 1 } }, spec: { containers: [] } },
      'o.metadata.annotations["a"] must be a string, got number',
    ],
    [{ spec: { containers: [], nodeSelector: [] } }, 'o.spec.nodeSelector must be an object, got array'],
    // Found by the fuzzer: fsGroup was written into a copy of whatever was there ("" became {fsGroup}).
    [
      { spec: { containers: [], securityContext: '' } },
      'o.spec.securityContext must be an object, got string',
    ],
    [
      { spec: { containers: [], securityContext: [] } },
      'o.spec.securityContext must be an object, got array',
    ],
    // Found by the fuzzer: a name of 5 characters given as 5 warned "the Pod's name has undefined characters".
    [{ metadata: { name: 5 }, spec: { containers: [] } }, 'o.metadata.name must be a string, got number'],
    [
      { metadata: { generateName: [] }, spec: { containers: [] } },
      'o.metadata.generateName must be a string, got array',
    ],
    // Found by the fuzzer: the EKS Pod Identity label was added to a copy of whatever was there.
    [
      { metadata: { labels: 'x' }, spec: { containers: [] } },
      'o.metadata.labels must be an object, got string',
    ],
    [
      { metadata: { labels: { a: 1 } }, spec: { containers: [] } },
      'o.metadata.labels["a"] must be a string, got number',
    ],
    [
      {
        spec: {
          containers: [],
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ values: 'windows' }] }],
              },
            },
          },
        },
      },
      'o.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values must be an array, got string',
    ],
  ])('rejects %j', (pod, message) => {
    expect(() => validatePod(pod, 'o')).toThrow(new InvalidReviewError(message));
  });

  // Found by the fuzzer: the message (also the log line's reason) quoted a key of any length whole.
  it('quotes at most 100 characters of a key', () => {
    const key = 'k'.repeat(10_000);
    expect(() =>
      validatePod({ metadata: { annotations: { [key]: 1 } }, spec: { containers: [] } }, 'o'),
    ).toThrow(
      new InvalidReviewError(
        `o.metadata.annotations["${'k'.repeat(100)}…" (10000 characters)] must be a string, got number`,
      ),
    );
  });
});

describe('isPodCreate', () => {
  const request = (): AdmissionRequest => parseReview(podReview(appPod())).request;

  it('is true for a Pod creation', () => {
    expect(isPodCreate(request())).toBe(true);
  });

  it.each<[string, Partial<AdmissionRequest>]>([
    ['an UPDATE', { operation: 'UPDATE' }],
    ['a subresource', { subResource: 'ephemeralcontainers' }],
    ['another kind', { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }],
    ['another resource', { resource: { group: '', version: 'v1', resource: 'pods/binding' } }],
    ['a Pod of another group', { kind: { group: 'example.com', version: 'v1', kind: 'Pod' } }],
  ])('is false for %s', (_case, change) => {
    expect(isPodCreate({ ...request(), ...change })).toBe(false);
  });
});

describe('reviewResponse', () => {
  it('omits the patch when nothing changes and encodes it as base64 JSON otherwise', () => {
    expect(reviewResponse('admission.k8s.io/v1beta1', 'u', [], [])).toEqual({
      apiVersion: 'admission.k8s.io/v1beta1',
      kind: 'AdmissionReview',
      response: { uid: 'u', allowed: true },
    });
    const patch = [{ op: 'add', path: '/a', value: 1 }];
    const { response } = reviewResponse('admission.k8s.io/v1', 'u', patch, ['w']);
    expect(response.patchType).toBe('JSONPatch');
    expect(JSON.parse(Buffer.from(response.patch!, 'base64').toString())).toEqual(patch);
    expect(response.warnings).toEqual(['w']);
  });
});
