// `doctor` on the webhook's registration: which MutatingWebhookConfigurations are ours, whether
// their settings are sound, whether the webhook's own Pods are kept away from it, whether its
// Service has ready endpoints, and what the certificate check found.
import type {
  V1EndpointSlice,
  V1MutatingWebhook,
  V1MutatingWebhookConfiguration,
  V1Namespace,
  V1Pod,
  V1Service,
} from '@kubernetes/client-node';
import { SKIP_LABEL } from '../vocabulary.js';
import { qualified, selectorMatches, type Finding } from './doctor.js';

/** The webhook's name in the chart and in the Go webhook's manifests. */
export const WEBHOOK_NAME = 'pod-identity-webhook.amazonaws.com';
export const SERVICE_NAME = 'pod-identity-webhook';

export interface FoundWebhook {
  configuration: string;
  webhook: V1MutatingWebhook;
}

/**
 * The webhooks to check: every webhook of the configuration named `name`, or else every webhook
 * named pod-identity-webhook.amazonaws.com or calling a Service named (or ending in)
 * pod-identity-webhook, as the chart's `<release>-pod-identity-webhook` does.
 */
export function findWebhooks(
  configurations: readonly V1MutatingWebhookConfiguration[],
  name?: string,
): FoundWebhook[] {
  const found: FoundWebhook[] = [];
  for (const configuration of configurations) {
    const configurationName = configuration.metadata?.name ?? '';
    for (const webhook of configuration.webhooks ?? []) {
      const service = webhook.clientConfig.service?.name ?? '';
      const ours =
        name !== undefined
          ? configurationName === name
          : webhook.name === WEBHOOK_NAME || service === SERVICE_NAME || service.endsWith(`-${SERVICE_NAME}`);
      if (ours) found.push({ configuration: configurationName, webhook });
    }
  }
  return found;
}

export function subjectOf({ configuration, webhook }: FoundWebhook): string {
  return `MutatingWebhookConfiguration ${configuration} webhook ${webhook.name}`;
}

export function noWebhookFinding(name?: string): Finding {
  return name !== undefined
    ? {
        severity: 'error',
        check: 'webhook-configuration',
        subject: `MutatingWebhookConfiguration ${name}`,
        problem: 'not found, or it has no webhooks',
        action: 'check the name (kubectl get mutatingwebhookconfigurations), or install the chart',
      }
    : {
        severity: 'error',
        check: 'webhook-configuration',
        subject: 'MutatingWebhookConfiguration',
        problem: `none has a webhook named ${WEBHOOK_NAME} or calling a Service named ${SERVICE_NAME}: no Pod is mutated`,
        action:
          'install the webhook (helm install pod-identity-webhook charts/pod-identity-webhook), or name its configuration with --webhook-configuration',
      };
}

/** The settings of one webhook: review versions, side effects, the skip label, the caBundle. */
export function settingsFindings(found: FoundWebhook): Finding[] {
  const { webhook } = found;
  const subject = subjectOf(found);
  const findings: Finding[] = [];
  const versions = webhook.admissionReviewVersions ?? [];
  if (!versions.includes('v1')) {
    findings.push({
      severity: 'warn',
      check: 'webhook-configuration',
      subject,
      problem: `admissionReviewVersions is [${versions.join(', ')}], without v1 (v1beta1 AdmissionReview is deprecated)`,
      action: `set admissionReviewVersions to [v1, v1beta1] (kubectl edit mutatingwebhookconfiguration ${found.configuration}); the chart does`,
    });
  }
  if (webhook.sideEffects !== 'None' && webhook.sideEffects !== 'NoneOnDryRun') {
    findings.push({
      severity: 'warn',
      check: 'webhook-configuration',
      subject,
      problem: `sideEffects is ${webhook.sideEffects ?? 'unset'}: dry-run Pod creates are refused`,
      action: 'set sideEffects to None: the webhook has no side effects',
    });
  }
  if (selectorMatches(webhook.objectSelector, { [SKIP_LABEL]: 'true' })) {
    findings.push({
      severity: 'warn',
      check: 'webhook-configuration',
      subject,
      problem: `objectSelector does not exclude Pods labelled ${SKIP_LABEL}: the webhook is called for its own Pods and for Pods that opted out`,
      action: `add {key: ${SKIP_LABEL}, operator: DoesNotExist} to objectSelector.matchExpressions (the chart does)`,
    });
  }
  if (webhook.clientConfig.url === undefined && webhook.clientConfig.service === undefined) {
    findings.push({
      severity: 'error',
      check: 'webhook-configuration',
      subject,
      problem: 'clientConfig has neither service nor url',
      action: 'reinstall the chart',
    });
  }
  if (!webhook.clientConfig.caBundle) {
    findings.push({
      severity: 'error',
      check: 'certificate',
      subject,
      problem:
        'caBundle is empty: kube-apiserver cannot verify the webhook (in builtin certificate mode the webhook writes it seconds after starting)',
      action:
        'check the webhook Pods are running and their logs (builtin mode), that cert-manager injects it (certManager mode), or set it (existingSecret mode)',
    });
  }
  return findings;
}

/**
 * The webhook's own Pods must not be sent to it (they would wait on themselves): each must carry the
 * skip label, fall outside the objectSelector, or live in a namespace the namespaceSelector excludes.
 */
export function ownPodsFindings(
  found: FoundWebhook,
  pods: readonly V1Pod[],
  namespaces: readonly V1Namespace[],
): Finding[] {
  const { webhook } = found;
  const selected = pods.filter((pod) => {
    const namespace = pod.metadata?.namespace ?? '';
    const labelsOfNamespace = {
      ...namespaces.find((ns) => ns.metadata?.name === namespace)?.metadata?.labels,
      'kubernetes.io/metadata.name': namespace,
    };
    return (
      selectorMatches(webhook.namespaceSelector, labelsOfNamespace) &&
      selectorMatches(webhook.objectSelector, pod.metadata?.labels)
    );
  });
  if (selected.length === 0) return [];
  const names = selected.map((pod) => qualified(pod.metadata?.namespace, pod.metadata?.name));
  return [
    {
      severity: webhook.failurePolicy === 'Ignore' ? 'warn' : 'error',
      check: 'webhook-own-pods',
      subject: subjectOf(found),
      problem: `its own Pods ${names.join(', ')} are sent to it${webhook.failurePolicy === 'Ignore' ? '' : ' with failurePolicy Fail: once no replica runs, none can start again'}`,
      action: `label the webhook's Pod template ${SKIP_LABEL}=true, or exclude its namespace in namespaceSelector (the chart does both)`,
    },
  ];
}

export interface DialTarget {
  host: string;
  port: number;
  /** The name kube-apiserver checks the certificate against. */
  serverName: string;
}

/** The port the Service forwards the webhook's calls to, by the name EndpointSlices use. */
function servicePortName(service: V1Service, port: number): string | undefined {
  return service.spec?.ports?.find((p) => p.port === port)?.name;
}

export interface ServiceState {
  service: V1Service | undefined;
  endpointSlices: readonly V1EndpointSlice[];
}

/** Ready endpoints of the webhook's Service, as addresses to dial for the certificate check. */
export function readyEndpoints(found: FoundWebhook, state: ServiceState): DialTarget[] {
  const ref = found.webhook.clientConfig.service;
  if (ref === undefined || state.service === undefined) return [];
  const port = ref.port ?? 443;
  const servicePort = state.service.spec?.ports?.find((p) => p.port === port);
  if (servicePort === undefined) return [];
  const name = servicePortName(state.service, port) ?? '';
  const serverName = `${ref.name}.${ref.namespace}.svc`;
  const targets: DialTarget[] = [];
  for (const slice of state.endpointSlices) {
    const slicePort = slice.ports?.find((p) => (p.name ?? '') === name)?.port;
    if (slicePort === undefined) continue;
    for (const endpoint of slice.endpoints) {
      if (endpoint.conditions?.ready === false) continue;
      for (const address of endpoint.addresses) targets.push({ host: address, port: slicePort, serverName });
    }
  }
  return targets;
}

/** The Service exists, has the port the webhook calls, and has at least one ready endpoint. */
export function serviceFindings(found: FoundWebhook, state: ServiceState): Finding[] {
  const ref = found.webhook.clientConfig.service;
  if (ref === undefined) return [];
  const subject = `Service ${qualified(ref.namespace, ref.name)}`;
  const port = ref.port ?? 443;
  const failing = found.webhook.failurePolicy === 'Ignore' ? 'created without their roles' : 'refused';
  if (state.service === undefined) {
    return [
      {
        severity: 'error',
        check: 'service',
        subject,
        problem: `not found, but ${found.configuration} calls it: Pods are ${failing}`,
        action: 'reinstall the chart, or fix clientConfig.service in the webhook configuration',
      },
    ];
  }
  if (!state.service.spec?.ports?.some((p) => p.port === port)) {
    return [
      {
        severity: 'error',
        check: 'service',
        subject,
        problem: `has no port ${port}, which ${found.configuration} calls`,
        action: 'make clientConfig.service.port a port of the Service',
      },
    ];
  }
  if (readyEndpoints(found, state).length === 0) {
    return [
      {
        severity: 'error',
        check: 'service',
        subject,
        problem: `no ready endpoints: Pods are ${failing} while no replica answers`,
        action: `check the webhook Pods: kubectl -n ${ref.namespace} get pods, then describe them and read their logs (/readyz says why it is not ready)`,
      },
    ];
  }
  return [];
}

export type DialOutcome =
  | { target: string; outcome: 'verified' }
  | { target: string; outcome: 'unreachable'; detail: string }
  | { target: string; outcome: 'rejected'; detail: string };

/**
 * What dialling the webhook with its caBundle found. One address refusing the certificate is an
 * error; addresses this machine cannot reach (Pod IPs from outside the cluster) are skipped.
 */
export function certificateFindings(found: FoundWebhook, outcomes: readonly DialOutcome[]): Finding[] {
  const subject = subjectOf(found);
  const rejected = outcomes.filter((o) => o.outcome === 'rejected');
  if (rejected.length > 0) {
    return rejected.map((o) => ({
      severity: 'error' as const,
      check: 'certificate' as const,
      subject,
      problem: `caBundle does not verify the serving certificate at ${o.target}: ${o.outcome === 'rejected' ? o.detail : ''}`,
      action:
        'make the caBundle hold the CA that signed the serving certificate, for the name kube-apiserver calls (builtin mode: restart the webhook Pods so they rewrite it; certManager: check the cainjector)',
    }));
  }
  if (outcomes.length > 0 && outcomes.every((o) => o.outcome === 'unreachable')) {
    const first = outcomes[0] as Extract<DialOutcome, { outcome: 'unreachable' }>;
    return [
      {
        severity: 'info',
        check: 'certificate',
        subject,
        problem: `could not reach ${outcomes.map((o) => o.target).join(', ')} from here (${first.detail})`,
        action: 'certificate check skipped; run doctor where the webhook Pods are reachable to check it',
      },
    ];
  }
  return [];
}
