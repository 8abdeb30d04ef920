// The thin handler around the pure mutation, shared by `serve` and `mutate`: validated review in,
// AdmissionReview response out. It does one I/O step, the ServiceAccount lookup, through a source.
import { resolveIdentity } from '../identity/rules.js';
import type { MutationOptions } from '../identity/options.js';
import type { RoleMapping } from '../identity/role-mapping.js';
import type { ServiceAccountSource } from '../serviceaccounts/source.js';
import { injectIdentity } from '../mutation/inject.js';
import { diffPods, type Operation } from '../mutation/patch.js';
import {
  isPodCreate,
  reviewResponse,
  validatePod,
  type AdmissionReview,
  type AdmissionReviewResponse,
} from './review.js';

export interface Admission {
  response: AdmissionReviewResponse;
  outcome: 'mutated' | 'unchanged';
  patch: Operation[];
  warnings: string[];
}

export interface AdmitDependencies {
  source: ServiceAccountSource;
  options: MutationOptions;
  /** `--watch-config-map`: roles for ServiceAccounts without a role annotation. */
  roleMapping?: Pick<RoleMapping, 'get'>;
  /** `--watch-container-credentials-config`: the ServiceAccounts that use EKS Pod Identity. */
  containerCredentials?: { has(namespace: string, name: string): boolean };
}

/** Pod CREATE → ServiceAccount → identity rules → mutation → patch. Anything else passes unchanged. */
export async function admit(
  review: AdmissionReview,
  { source, options, roleMapping, containerCredentials }: AdmitDependencies,
): Promise<Admission> {
  const { request, apiVersion } = review;
  const answer = (patch: Operation[], warnings: string[]): Admission => ({
    response: reviewResponse(apiVersion, request.uid, patch, warnings),
    outcome: patch.length > 0 ? 'mutated' : 'unchanged',
    patch,
    warnings,
  });
  if (!isPodCreate(request)) return answer([], []);

  const pod = validatePod(request.object, 'request.object');
  const { namespace, serviceAccount } = podIdentityKey(review);
  const account = await source.get(namespace, serviceAccount);
  const mapped = roleMapping?.get(namespace, serviceAccount);
  // As in the Go webhook, a ConfigMap entry is enough without the ServiceAccount (the API server's
  // ServiceAccount admission normally refuses such a Pod before it gets here).
  const missing = `ServiceAccount ${namespace}/${serviceAccount} not found`;
  // The same for a ServiceAccount in the container-credentials file (the Go webhook reads neither).
  const listed = containerCredentials?.has(namespace, serviceAccount) ?? false;
  if (account === undefined && mapped === undefined && !listed) {
    return answer([], [`${missing}; Pod not mutated`]);
  }
  const { identity, warnings } = resolveIdentity(
    {
      serviceAccount: account?.metadata?.annotations,
      pod: pod.metadata?.annotations,
      mapped,
      containerCredentials: listed,
      jitterKey: jitterKey(namespace, review),
    },
    options,
  );
  if (account === undefined) {
    const used = listed ? 'container-credentials file used' : `ConfigMap entry "${mapped!.key}" used`;
    warnings.unshift(`${missing}; ${used}`);
  }
  if (identity === undefined) return answer([], warnings);
  const mutated = injectIdentity(pod, identity);
  return answer(diffPods(pod, mutated.pod), [...warnings, ...mutated.warnings]);
}

/**
 * The same Pod in the same review gives the same key; Pods of one generateName differ by the
 * review's uid (the Pod's own uid, when the request carries one).
 */
function jitterKey(namespace: string, review: AdmissionReview): string {
  const metadata = asRecord(asRecord(review.request.object)['metadata']);
  const name = text(metadata['name']) || text(metadata['generateName']);
  return `${namespace}/${name}/${text(metadata['uid']) || review.request.uid}`;
}

/** The namespace and ServiceAccount a Pod CREATE runs as, with the API server's defaults. */
function podIdentityKey(review: AdmissionReview): { namespace: string; serviceAccount: string } {
  const pod = asRecord(review.request.object);
  const metadata = asRecord(pod['metadata']);
  const spec = asRecord(pod['spec']);
  return {
    namespace: text(metadata['namespace']) || review.request.namespace || 'default',
    serviceAccount: text(spec['serviceAccountName']) || 'default',
  };
}

/** What the log line of a review says. Reads defensively: it also describes reviews that fail. */
export interface ReviewSummary {
  uid: string;
  namespace?: string;
  /** The Pod's name, or its generateName for Pods whose name the API server has yet to pick. */
  pod?: string;
  serviceAccount?: string;
}

export function summarizeReview(review: AdmissionReview): ReviewSummary {
  const { uid, namespace } = review.request;
  if (!isPodCreate(review.request)) return { uid, namespace };
  const metadata = asRecord(asRecord(review.request.object)['metadata']);
  return {
    uid,
    ...podIdentityKey(review),
    pod: text(metadata['name']) || text(metadata['generateName']),
  };
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '');
