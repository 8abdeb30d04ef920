// The thin handler around the pure mutation, shared by `serve` and `mutate`: validated review in,
// AdmissionReview response out. It does one I/O step, the ServiceAccount lookup, through a source.
import { resolveIdentity } from '../identity/rules.js';
import type { MutationOptions } from '../identity/options.js';
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
}

/** Pod CREATE → ServiceAccount → identity rules → mutation → patch. Anything else passes unchanged. */
export async function admit(
  review: AdmissionReview,
  { source, options }: AdmitDependencies,
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
  if (account === undefined) {
    return answer([], [`ServiceAccount ${namespace}/${serviceAccount} not found; Pod not mutated`]);
  }
  const { identity, warnings } = resolveIdentity(
    { serviceAccount: account.metadata?.annotations, pod: pod.metadata?.annotations },
    options,
  );
  if (identity === undefined) return answer([], warnings);
  const mutated = injectIdentity(pod, identity);
  return answer(diffPods(pod, mutated.pod), [...warnings, ...mutated.warnings]);
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
