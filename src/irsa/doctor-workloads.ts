// `doctor` on workloads: Pods that should carry a role but do not (typically created while the
// webhook was not answering), the owner to roll so they are recreated, and ServiceAccount
// annotations the webhook ignores. The annotation rules are the webhook's own (resolveIdentity).
import type {
  V1MutatingWebhook,
  V1Namespace,
  V1Pod,
  V1ReplicaSet,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import { DEFAULT_MUTATION_OPTIONS } from '../identity/options.js';
import { resolveIdentity } from '../identity/rules.js';
import { ENV, SKIP_LABEL, TOKEN_VOLUME_NAME } from '../vocabulary.js';
import { qualified, selectorMatches, type Finding } from './doctor.js';

/** The annotation `kubectl rollout restart` sets on a workload's Pod template. */
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';

export type RolloutKind = 'Deployment' | 'StatefulSet' | 'DaemonSet';

/** What to do so that a Pod is created again: roll a workload, or delete the Pod by hand. */
export type Remedy =
  | { kind: RolloutKind; namespace: string; name: string }
  | { kind: 'delete'; namespace: string; name: string; why: string };

export interface WorkloadInventory {
  pods: readonly V1Pod[];
  serviceAccounts: readonly V1ServiceAccount[];
  /** For namespace labels; a namespace not listed is judged by its name label alone. */
  namespaces: readonly V1Namespace[];
  replicaSets: readonly V1ReplicaSet[];
  /** The pod-identity webhooks found: a Pod is expected to be mutated when one of them selects it. */
  webhooks: readonly V1MutatingWebhook[];
  annotationPrefix: string;
}

export interface MissedPod {
  namespace: string;
  name: string;
  serviceAccount: string;
  roleArn: string;
  /** The role ARN the Pod was given, when it has one that differs from its ServiceAccount's. */
  injectedRoleArn?: string;
  remedy: Remedy;
}

const NAME_LABEL = 'kubernetes.io/metadata.name';

function namespaceLabels(namespaces: readonly V1Namespace[], name: string): Record<string, string> {
  const found = namespaces.find((namespace) => namespace.metadata?.name === name);
  return { ...found?.metadata?.labels, [NAME_LABEL]: name };
}

/** Whether the webhook would be called for this Pod: no skip label, and a webhook selects it. */
export function expectedToBeMutated(
  pod: V1Pod,
  labelsOfNamespace: Record<string, string>,
  webhooks: readonly V1MutatingWebhook[],
): boolean {
  const labels = pod.metadata?.labels ?? {};
  if (Object.hasOwn(labels, SKIP_LABEL) || Object.hasOwn(labelsOfNamespace, SKIP_LABEL)) return false;
  // Without a webhook configuration (reported on its own), judge by the skip label alone.
  if (webhooks.length === 0) return true;
  return webhooks.some(
    (webhook) =>
      selectorMatches(webhook.namespaceSelector, labelsOfNamespace) &&
      selectorMatches(webhook.objectSelector, labels),
  );
}

function controllerOf(object: {
  metadata?: { ownerReferences?: Array<{ kind: string; name: string; controller?: boolean }> };
}) {
  const owners = object.metadata?.ownerReferences ?? [];
  return owners.find((owner) => owner.controller) ?? owners[0];
}

/** Pod → ReplicaSet → Deployment, StatefulSet, DaemonSet; anything else is deleted by hand. */
export function remedyFor(pod: V1Pod, replicaSets: readonly V1ReplicaSet[]): Remedy {
  const namespace = pod.metadata?.namespace ?? '';
  const name = pod.metadata?.name ?? '';
  const owner = controllerOf(pod);
  const deletePod = (why: string): Remedy => ({ kind: 'delete', namespace, name, why });
  if (owner === undefined) return deletePod('a bare Pod (no owner)');
  if (owner.kind === 'StatefulSet' || owner.kind === 'DaemonSet') {
    return { kind: owner.kind, namespace, name: owner.name };
  }
  if (owner.kind === 'ReplicaSet') {
    const replicaSet = replicaSets.find(
      (rs) => rs.metadata?.namespace === namespace && rs.metadata?.name === owner.name,
    );
    const deployment = replicaSet ? controllerOf(replicaSet) : undefined;
    if (deployment?.kind === 'Deployment') return { kind: 'Deployment', namespace, name: deployment.name };
    return deletePod(
      replicaSet
        ? `owned by ReplicaSet ${owner.name}, which no Deployment owns: it recreates a deleted Pod`
        : `owned by ReplicaSet ${owner.name}, which was not found`,
    );
  }
  if (owner.kind === 'Job') {
    return deletePod(`owned by Job ${owner.name}: a Job cannot be rolled; its next Pods are mutated`);
  }
  return deletePod(`owned by ${owner.kind} ${owner.name}, which recreates a deleted Pod`);
}

function injectedRoleArn(pod: V1Pod): string | undefined {
  for (const container of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    const value = container.env?.find((env) => env.name === ENV.roleArn)?.value;
    if (value !== undefined) return value;
  }
  return undefined;
}

/**
 * Running Pods whose ServiceAccount asks for a role but that have no token volume, or that were
 * given another role than their ServiceAccount now names (the annotation changed since).
 */
export function missedPods(inventory: WorkloadInventory): MissedPod[] {
  const options = { ...DEFAULT_MUTATION_OPTIONS, annotationPrefix: inventory.annotationPrefix };
  const accounts = new Map(
    inventory.serviceAccounts.map((sa) => [qualified(sa.metadata?.namespace, sa.metadata?.name), sa]),
  );
  const missed: MissedPod[] = [];
  for (const pod of inventory.pods) {
    const namespace = pod.metadata?.namespace ?? '';
    const phase = pod.status?.phase;
    if (pod.metadata?.deletionTimestamp || phase === 'Succeeded' || phase === 'Failed') continue;
    const serviceAccount = pod.spec?.serviceAccountName || 'default';
    const account = accounts.get(qualified(namespace, serviceAccount));
    if (account === undefined) continue;
    const { identity } = resolveIdentity(
      { serviceAccount: account.metadata?.annotations, pod: pod.metadata?.annotations },
      options,
    );
    if (identity === undefined) continue;
    if (!expectedToBeMutated(pod, namespaceLabels(inventory.namespaces, namespace), inventory.webhooks)) {
      continue;
    }
    const hasToken = (pod.spec?.volumes ?? []).some((volume) => volume.name === TOKEN_VOLUME_NAME);
    const injected = injectedRoleArn(pod);
    if (hasToken && (injected === undefined || injected === identity.roleArn)) continue;
    missed.push({
      namespace,
      name: pod.metadata?.name ?? '',
      serviceAccount,
      roleArn: identity.roleArn,
      ...(hasToken ? { injectedRoleArn: injected } : {}),
      remedy: remedyFor(pod, inventory.replicaSets),
    });
  }
  return missed;
}

/** Workloads to roll, each once, in the order their first Pod was found. */
export function rolloutTargets(missed: readonly MissedPod[]): Array<Extract<Remedy, { kind: RolloutKind }>> {
  const seen = new Map<string, Extract<Remedy, { kind: RolloutKind }>>();
  for (const { remedy } of missed) {
    if (remedy.kind === 'delete') continue;
    const key = `${remedy.kind}/${remedy.namespace}/${remedy.name}`;
    if (!seen.has(key)) seen.set(key, remedy);
  }
  return [...seen.values()];
}

/** RFC 3339 in UTC to the second, as `kubectl rollout restart` writes it. */
export function restartedAt(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The patch `kubectl rollout restart` sends (strategic merge, or JSON merge: the same here). */
export function restartPatch(now: Date): {
  spec: { template: { metadata: { annotations: Record<string, string> } } };
} {
  return {
    spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: restartedAt(now) } } } },
  };
}

const KUBECTL_RESOURCE: Record<RolloutKind, string> = {
  Deployment: 'deployment',
  StatefulSet: 'statefulset',
  DaemonSet: 'daemonset',
};

export type RestartOutcome = { restarted: true; at: string } | { restarted: false; error: string };

/**
 * One finding per workload to roll (listing its Pods) and one per Pod to delete by hand. With
 * `restarts`, a workload that was rolled is reported as done (info), one that failed as an error.
 */
export function missedPodFindings(
  missed: readonly MissedPod[],
  restarts?: ReadonlyMap<string, RestartOutcome>,
): Finding[] {
  const findings: Finding[] = [];
  const groups = new Map<string, MissedPod[]>();
  for (const pod of missed) {
    const { remedy } = pod;
    const key = remedy.kind === 'delete' ? `Pod/${pod.namespace}/${pod.name}` : rolloutKey(remedy);
    groups.set(key, [...(groups.get(key) ?? []), pod]);
  }
  for (const [key, pods] of groups) {
    const { remedy } = pods[0]!;
    const changed = pods.filter((pod) => pod.injectedRoleArn !== undefined);
    const check = changed.length === pods.length ? 'pod-role-changed' : 'pod-not-mutated';
    const problem = describeMissed(pods);
    if (remedy.kind === 'delete') {
      findings.push({
        severity: 'warn',
        check,
        subject: `Pod ${qualified(remedy.namespace, remedy.name)}`,
        problem: `${problem}; ${remedy.why}`,
        action: `delete and recreate it (kubectl -n ${remedy.namespace} delete pod ${remedy.name}, then create it again; a Pod's owner recreates it); the webhook mutates Pods only when they are created`,
      });
      continue;
    }
    const command = `kubectl -n ${remedy.namespace} rollout restart ${KUBECTL_RESOURCE[remedy.kind]}/${remedy.name}`;
    const subject = `${remedy.kind} ${qualified(remedy.namespace, remedy.name)}`;
    const outcome = restarts?.get(key);
    if (outcome === undefined) {
      findings.push({
        severity: 'warn',
        check,
        subject,
        problem,
        action: `roll it so its Pods are created again and mutated: doctor --restart, or ${command}`,
      });
    } else if (outcome.restarted) {
      findings.push({
        severity: 'info',
        check: 'restart',
        subject,
        problem,
        action: `restarted (${RESTARTED_AT_ANNOTATION}=${outcome.at}); its new Pods are mutated as they are created`,
      });
    } else {
      findings.push({
        severity: 'error',
        check: 'restart',
        subject,
        problem: `${problem}; restart failed: ${outcome.error}`,
        action: `run ${command} with rights to patch it`,
      });
    }
  }
  return findings;
}

export function rolloutKey(remedy: { kind: string; namespace: string; name: string }): string {
  return `${remedy.kind}/${remedy.namespace}/${remedy.name}`;
}

function describeMissed(pods: readonly MissedPod[]): string {
  const first = pods[0]!;
  const names = pods.map((pod) => pod.name);
  const shown =
    names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', ');
  const which = `${pods.length === 1 ? 'Pod' : `${pods.length} Pods`} ${shown}`;
  if (pods.every((pod) => pod.injectedRoleArn !== undefined)) {
    return `${which} run with role ${first.injectedRoleArn} but ServiceAccount ${first.serviceAccount} now names ${first.roleArn}`;
  }
  return `${which} not mutated: ServiceAccount ${first.serviceAccount} has role ${first.roleArn}, but no ${TOKEN_VOLUME_NAME} volume was injected (created while the webhook was not answering?)`;
}

const TYPO = /^ServiceAccount annotation "([^"]+)" is ignored; did you mean "([^"]+)"\?$/;

/** Every warning the webhook would give about a ServiceAccount's annotations, with what to do. */
export function annotationFindings(
  serviceAccounts: readonly V1ServiceAccount[],
  annotationPrefix: string,
): Finding[] {
  const options = { ...DEFAULT_MUTATION_OPTIONS, annotationPrefix };
  const findings: Finding[] = [];
  for (const account of serviceAccounts) {
    const namespace = account.metadata?.namespace ?? '';
    const name = account.metadata?.name ?? '';
    const annotations = account.metadata?.annotations;
    const { warnings } = resolveIdentity({ serviceAccount: annotations, pod: undefined }, options);
    for (const warning of warnings) {
      const typo = TYPO.exec(warning);
      const value = typo ? (annotations?.[typo[1]!] ?? '') : '';
      findings.push({
        severity: 'warn',
        check: 'annotation',
        subject: `ServiceAccount ${qualified(namespace, name)}`,
        problem: warning,
        action: typo
          ? `rename it: kubectl -n ${namespace} annotate serviceaccount ${name} '${typo[2]}=${value}' '${typo[1]}-' (if the webhook runs with another --annotation-prefix, pass it to doctor), then restart the Pods that use it`
          : `fix the annotation on ServiceAccount ${name}, then restart the Pods that use it`,
      });
    }
  }
  return findings;
}
