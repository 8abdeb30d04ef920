// `doctor`'s findings: what each one says, how they are printed, the exit status they add up to,
// and the label-selector matching that decides which Pods a webhook configuration sends to us.
// Pure: the cluster is read and written by src/commands/doctor.ts.
import type { V1LabelSelector } from '@kubernetes/client-node';

/** `error`: IRSA is broken for someone; `warn`: likely to bite; `info`: said for context, all well. */
export type Severity = 'error' | 'warn' | 'info';

export type Check =
  | 'pod-not-mutated'
  | 'pod-role-changed'
  | 'restart'
  | 'annotation'
  | 'webhook-configuration'
  | 'webhook-own-pods'
  | 'service'
  | 'certificate'
  | 'token'
  | 'access';

export interface Finding {
  severity: Severity;
  check: Check;
  /** What the finding is about: `Deployment ns/web`, `ServiceAccount ns/app`, ... */
  subject: string;
  /** What is wrong (or, for `info`, what was seen). */
  problem: string;
  /** What to do about it. */
  action: string;
}

export const OUTPUT_FORMATS = ['text', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** 0 when all is well, 1 when something needs attention (2, bad input, is the command's own). */
export function exitStatus(findings: readonly Finding[]): 0 | 1 {
  return findings.some((finding) => finding.severity !== 'info') ? 1 : 0;
}

const ORDER: Record<Severity, number> = { error: 0, warn: 1, info: 2 };

/** Most severe first; otherwise in the order the checks produced them. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return findings
    .map((finding, index) => ({ finding, index }))
    .sort((a, b) => ORDER[a.finding.severity] - ORDER[b.finding.severity] || a.index - b.index)
    .map(({ finding }) => finding);
}

export interface DoctorSummary {
  pods: number;
  serviceAccounts: number;
  webhooks: number;
}

/** One line per finding, `[warn] <what>: <what to do>`, or one line saying all is well. */
export function formatText(findings: readonly Finding[], summary: DoctorSummary): string {
  const lines = sortFindings(findings).map(
    (finding) => `[${finding.severity}] ${finding.subject}: ${finding.problem}: ${finding.action}`,
  );
  if (exitStatus(findings) === 0) {
    lines.push(
      `[ok] nothing needs attention (checked ${summary.pods} Pods, ${summary.serviceAccounts} ServiceAccounts, ${summary.webhooks} webhooks)`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function formatJson(findings: readonly Finding[], summary: DoctorSummary): string {
  const sorted = sortFindings(findings);
  return `${JSON.stringify({ ok: exitStatus(findings) === 0, summary, findings: sorted }, null, 2)}\n`;
}

export function formatFindings(
  format: OutputFormat,
  findings: readonly Finding[],
  summary: DoctorSummary,
): string {
  return format === 'json' ? formatJson(findings, summary) : formatText(findings, summary);
}

/**
 * Whether a Kubernetes label selector matches these labels. An absent or empty selector matches
 * everything, as in webhook configurations. An operator this does not know matches nothing.
 */
export function selectorMatches(
  selector: V1LabelSelector | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  const have = labels ?? {};
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) {
    if (have[key] !== value) return false;
  }
  for (const { key, operator, values = [] } of selector?.matchExpressions ?? []) {
    const present = Object.hasOwn(have, key);
    switch (operator) {
      case 'In':
        if (!present || !values.includes(have[key]!)) return false;
        break;
      case 'NotIn':
        if (present && values.includes(have[key]!)) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** `ns/name`, or `name` for cluster-scoped objects. */
export function qualified(namespace: string | undefined, name: string | undefined): string {
  return namespace ? `${namespace}/${name ?? ''}` : (name ?? '');
}
