// AdmissionReview in (validated, admission.k8s.io/v1 or v1beta1) and the response out. Validation
// covers exactly what the webhook reads, so a malformed request is named rather than crashed on.
import type { V1Pod } from '@kubernetes/client-node';

export const REVIEW_API_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;
export type ReviewApiVersion = (typeof REVIEW_API_VERSIONS)[number];

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource: { group: string; version: string; resource: string };
  subResource?: string;
  namespace?: string;
  operation: string;
  object?: unknown;
}

export interface AdmissionReview {
  apiVersion: ReviewApiVersion;
  kind: 'AdmissionReview';
  request: AdmissionRequest;
}

export interface AdmissionResponse {
  uid: string;
  allowed: true;
  patchType?: 'JSONPatch';
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: ReviewApiVersion;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/** A request the webhook cannot understand: answered with HTTP 400 so the failure policy applies. */
export class InvalidReviewError extends Error {
  override name = 'InvalidReviewError';
}

type Json = Record<string, unknown>;

function describe(value: unknown): string {
  if (value === null) return 'null';
  return Array.isArray(value) ? 'array' : typeof value;
}

const QUOTED = 100;

/** A value in a message: a string quoted (its first 100 characters), anything else by its type. */
function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value !== 'string') return describe(value);
  if (value.length <= QUOTED) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, QUOTED)).slice(0, -1)}…" (${value.length} characters)`;
}

function expectObject(value: unknown, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidReviewError(`${path} must be an object, got ${describe(value)}`);
  }
  return value as Json;
}

function expectString(value: unknown, path: string): string {
  if (typeof value !== 'string')
    throw new InvalidReviewError(`${path} must be a string, got ${describe(value)}`);
  return value;
}

function optional<T>(
  value: unknown,
  path: string,
  check: (value: unknown, path: string) => T,
): T | undefined {
  return value === undefined || value === null ? undefined : check(value, path);
}

function expectArray(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) throw new InvalidReviewError(`${path} must be an array, got ${describe(value)}`);
  return value;
}

function expectStringMap(value: unknown, path: string): Record<string, string> {
  const map = expectObject(value, path);
  for (const [key, item] of Object.entries(map)) expectString(item, `${path}[${shown(key)}]`);
  return map as Record<string, string>;
}

export function parseReview(body: unknown): AdmissionReview {
  const review = expectObject(body, 'body');
  const apiVersion = review['apiVersion'];
  if (!REVIEW_API_VERSIONS.includes(apiVersion as ReviewApiVersion)) {
    throw new InvalidReviewError(
      `apiVersion must be one of ${REVIEW_API_VERSIONS.join(', ')}, got ${shown(apiVersion)}`,
    );
  }
  if (review['kind'] !== 'AdmissionReview') {
    throw new InvalidReviewError(`kind must be AdmissionReview, got ${shown(review['kind'])}`);
  }
  const request = expectObject(review['request'], 'request');
  const uid = expectString(request['uid'], 'request.uid');
  if (uid === '') throw new InvalidReviewError('request.uid must not be empty');
  const kind = expectObject(request['kind'], 'request.kind');
  const resource = expectObject(request['resource'], 'request.resource');
  return {
    apiVersion: apiVersion as ReviewApiVersion,
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: {
        group: expectString(kind['group'] ?? '', 'request.kind.group'),
        version: expectString(kind['version'], 'request.kind.version'),
        kind: expectString(kind['kind'], 'request.kind.kind'),
      },
      resource: {
        group: expectString(resource['group'] ?? '', 'request.resource.group'),
        version: expectString(resource['version'], 'request.resource.version'),
        resource: expectString(resource['resource'], 'request.resource.resource'),
      },
      subResource: optional(request['subResource'], 'request.subResource', expectString),
      namespace: optional(request['namespace'], 'request.namespace', expectString),
      operation: expectString(request['operation'], 'request.operation'),
      object: request['object'],
    },
  };
}

/** True for the only requests this webhook mutates: Pod creations (not subresources). */
export function isPodCreate(request: AdmissionRequest): boolean {
  const { kind, resource } = request;
  return (
    request.operation === 'CREATE' &&
    kind.group === '' &&
    kind.kind === 'Pod' &&
    resource.group === '' &&
    resource.resource === 'pods' &&
    !request.subResource
  );
}

/**
 * Checks the parts of a Pod the mutation reads or writes; everything else passes through untouched.
 * `path` is where the Pod sits (`request.object`), or '' for a bare Pod.
 */
export function validatePod(value: unknown, path: string): V1Pod {
  const pod = expectObject(value, path || 'the Pod');
  // Fields of a bare Pod (path '') are named from its root: `spec.containers`.
  const root = path === '' ? '' : `${path}.`;
  const metadata = optional(pod['metadata'], `${root}metadata`, expectObject) ?? {};
  optional(metadata['annotations'], `${root}metadata.annotations`, expectStringMap);
  optional(metadata['labels'], `${root}metadata.labels`, expectStringMap);
  optional(metadata['namespace'], `${root}metadata.namespace`, expectString);
  optional(metadata['name'], `${root}metadata.name`, expectString);
  optional(metadata['generateName'], `${root}metadata.generateName`, expectString);
  const spec = expectObject(pod['spec'], `${root}spec`);
  optional(spec['serviceAccountName'], `${root}spec.serviceAccountName`, expectString);
  optional(spec['nodeSelector'], `${root}spec.nodeSelector`, expectStringMap);
  optional(spec['securityContext'], `${root}spec.securityContext`, expectObject);
  validateAffinity(spec['affinity'], `${root}spec.affinity`);
  const volumes = optional(spec['volumes'], `${root}spec.volumes`, expectArray) ?? [];
  volumes.forEach((volume, i) => expectObject(volume, `${root}spec.volumes[${i}]`));
  validateContainers(expectArray(spec['containers'], `${root}spec.containers`), `${root}spec.containers`);
  const init = optional(spec['initContainers'], `${root}spec.initContainers`, expectArray) ?? [];
  validateContainers(init, `${root}spec.initContainers`);
  return pod as V1Pod;
}

function validateContainers(containers: unknown[], path: string): void {
  containers.forEach((value, i) => {
    const container = expectObject(value, `${path}[${i}]`);
    expectString(container['name'], `${path}[${i}].name`);
    const env = optional(container['env'], `${path}[${i}].env`, expectArray) ?? [];
    env.forEach((item, j) =>
      expectString(expectObject(item, `${path}[${i}].env[${j}]`)['name'], `${path}[${i}].env[${j}].name`),
    );
    const mounts = optional(container['volumeMounts'], `${path}[${i}].volumeMounts`, expectArray) ?? [];
    mounts.forEach((item, j) => expectObject(item, `${path}[${i}].volumeMounts[${j}]`));
  });
}

function validateAffinity(value: unknown, path: string): void {
  const affinity = optional(value, path, expectObject);
  const nodeAffinity = optional(affinity?.['nodeAffinity'], `${path}.nodeAffinity`, expectObject);
  const requiredPath = `${path}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`;
  const required = optional(
    nodeAffinity?.['requiredDuringSchedulingIgnoredDuringExecution'],
    requiredPath,
    expectObject,
  );
  const terms =
    optional(required?.['nodeSelectorTerms'], `${requiredPath}.nodeSelectorTerms`, expectArray) ?? [];
  terms.forEach((term, i) => {
    const termPath = `${requiredPath}.nodeSelectorTerms[${i}]`;
    const expressions = optional(
      expectObject(term, termPath)['matchExpressions'],
      `${termPath}.matchExpressions`,
      expectArray,
    );
    (expressions ?? []).forEach((expression, j) => {
      const values = expectObject(expression, `${termPath}.matchExpressions[${j}]`)['values'];
      optional(values, `${termPath}.matchExpressions[${j}].values`, expectArray);
    });
  });
}

export function reviewResponse(
  apiVersion: ReviewApiVersion,
  uid: string,
  patch: readonly object[],
  warnings: readonly string[],
): AdmissionReviewResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  if (patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(patch)).toString('base64');
  }
  if (warnings.length > 0) response.warnings = [...warnings];
  return { apiVersion, kind: 'AdmissionReview', response };
}
