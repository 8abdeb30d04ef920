// vitest globalSetup of the chart project, run after the e2e one (which starts kube-apiserver):
// builds (or reuses) the pinned helm and fetches (or reuses) the pinned cert-manager and
// prometheus-operator CRDs, both cached outside the repository like the control-plane binaries.
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import type { ChartContext } from './context.js';
import { runHackScript } from '../support/scripts.js';

export default async function setup(project: TestProject): Promise<void> {
  const [binDir, crdDir] = await Promise.all([
    runHackScript('build-helm.sh'),
    runHackScript('fetch-crds.sh'),
  ]);
  const context: ChartContext = { helm: join(binDir, 'helm'), crdDir };
  project.provide('chart', context);
  console.log(`[chart] helm ${context.helm}, CRDs ${crdDir}`);
}
