// The thin handler around the pure mutation, shared by `serve` and `mutate`: validated review in,
// AdmissionReview response out. It does one I/O step, the ServiceAccount lookup, through a source.
import type { V1Pod } from '@kubernetes/client-node';
import { annotationsUnder, annotationTypos, resolveIdentity } from '../identity/rules.js';
import type { ServiceAccountSource } from '../identity/source.js';
import { injectIdentity } from '../mutation/inject.js';
import { diffPods, type Operation } from '../mutation/patch.js';
import type { MutationOptions } from '../options.js';
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

/** What the log line of a review says; filled in as it becomes known, so failures are described too. */
export interface ReviewSummary {
  uid?: string;
  namespace?: string;
  /** The Pod's name, or its generateName for Pods whose name the API server has yet to pick. */
  pod?: string;
  serviceAccount?: string;
}

export interface AdmitDependencies {
  source: ServiceAccountSource;
  options: MutationOptions;
}

export async function admit(
  review: AdmissionReview,
  { source, options }: AdmitDependencies,
  summary: ReviewSummary = {},
): Promise<Admission> {
  const { request, apiVersion } = review;
  summary.uid = request.uid;
  summary.namespace = request.namespace;
  if (!isPodCreate(request)) {
    return {
      response: reviewResponse(apiVersion, request.uid, [], []),
      outcome: 'unchanged',
      patch: [],
      warnings: [],
    };
  }
  const pod = validatePod(request.object, 'request.object');
  const namespace = pod.metadata?.namespace || request.namespace || 'default';
  const serviceAccount = pod.spec?.serviceAccountName || 'default';
  Object.assign(summary, {
    namespace,
    pod: pod.metadata?.name || pod.metadata?.generateName || '',
    serviceAccount,
  });
  const { patch, warnings } = await mutatePod(pod, namespace, serviceAccount, source, options);
  return {
    response: reviewResponse(apiVersion, request.uid, patch, warnings),
    outcome: patch.length > 0 ? 'mutated' : 'unchanged',
    patch,
    warnings,
  };
}

async function mutatePod(
  pod: V1Pod,
  namespace: string,
  name: string,
  source: ServiceAccountSource,
  options: MutationOptions,
): Promise<{ patch: Operation[]; warnings: string[] }> {
  const account = await source.get(namespace, name);
  if (account === undefined) {
    return { patch: [], warnings: [`ServiceAccount ${namespace}/${name} not found; Pod not mutated`] };
  }
  const prefix = options.annotationPrefix;
  const accountAnnotations = account.metadata?.annotations;
  const { identity, warnings } = resolveIdentity(
    annotationsUnder(prefix, accountAnnotations),
    annotationsUnder(prefix, pod.metadata?.annotations),
    options,
  );
  warnings.unshift(...annotationTypos(prefix, accountAnnotations));
  if (identity === undefined) return { patch: [], warnings };
  const mutated = injectIdentity(pod, identity);
  return { patch: diffPods(pod, mutated.pod), warnings: [...warnings, ...mutated.warnings] };
}
