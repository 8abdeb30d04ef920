// What the chart project's global setup hands to its test files (besides the e2e context of the
// real kube-apiserver): the pinned helm binary and the directory of pinned third-party CRDs.
import type {} from 'vitest';

export interface ChartContext {
  /** The cached helm binary built by hack/build-helm.sh. */
  helm: string;
  /** Directory of CustomResourceDefinition files fetched by hack/fetch-crds.sh. */
  crdDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    chart: ChartContext;
  }
}
