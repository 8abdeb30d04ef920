// `trust-policy`: print the IAM trust policy for some ServiceAccounts; `trust-policy check`: say
// whether a ServiceAccount's token would be accepted by a trust policy file, and why.
import {
  buildTrustPolicy,
  DEFAULT_PARTITION,
  evaluateTrustPolicy,
  parseProviderArn,
  providerAccountOf,
  serviceAccountSubject,
  type ServiceAccountPattern,
  type TrustDecision,
} from '../irsa/trust-policy.js';
import { readText } from '../read-text.js';
import { DEFAULT_TOKEN_AUDIENCE } from '../vocabulary.js';

/** Bad input (exit status 2 for `check`): one line naming what is wrong. */
export class InputError extends Error {}

export interface PrintFlags {
  account?: string;
  issuer?: string;
  providerArn?: string;
  partition?: string;
  namespaces: string[];
  serviceAccounts: string[];
  audiences: string[];
}

/**
 * The ServiceAccounts that `--namespace` and `--service-account` name. A `NS/NAME` value carries
 * its own namespace. The other names take the one `--namespace` when one is given, else pair with
 * the `--namespace` values by position (as many of each).
 */
export function pairServiceAccounts(namespaces: string[], names: string[]): ServiceAccountPattern[] {
  if (names.length === 0) throw new InputError('--service-account is required (NAME, or NS/NAME)');
  const bare = names.filter((name) => !name.includes('/'));
  if (bare.length > 0 && namespaces.length === 0) {
    throw new InputError(`--namespace is required for --service-account ${bare[0]} (or give it as NS/NAME)`);
  }
  if (bare.length === 0 && namespaces.length > 0) {
    throw new InputError('--namespace is given but every --service-account is NS/NAME');
  }
  if (namespaces.length > 1 && namespaces.length !== bare.length) {
    throw new InputError(
      `${namespaces.length} --namespace values for ${bare.length} --service-account values: give one --namespace for all, or one per --service-account (paired in order)`,
    );
  }
  let next = 0;
  return names.map((name) => {
    const slash = name.indexOf('/');
    if (slash >= 0) {
      if (name.indexOf('/', slash + 1) >= 0)
        throw new InputError(`--service-account ${name}: expected NAME or NS/NAME`);
      return { namespace: name.slice(0, slash), name: name.slice(slash + 1) };
    }
    const namespace = namespaces.length === 1 ? namespaces[0]! : namespaces[next++]!;
    return { namespace, name };
  });
}

/** The policy JSON, as printed. */
export function trustPolicyText(flags: PrintFlags): string {
  if (flags.providerArn === undefined) {
    if (flags.issuer === undefined) throw new InputError('--issuer is required (or --provider-arn)');
    if (flags.account === undefined) throw new InputError('--account is required (or --provider-arn)');
  }
  try {
    const policy = buildTrustPolicy({
      issuer: flags.issuer,
      account: flags.account,
      providerArn: flags.providerArn,
      partition: flags.partition,
      audiences: flags.audiences,
      serviceAccounts: pairServiceAccounts(flags.namespaces, flags.serviceAccounts),
    });
    return `${JSON.stringify(policy, null, 2)}\n`;
  } catch (error) {
    throw error instanceof InputError ? error : new InputError((error as Error).message);
  }
}

export interface CheckFlags {
  policy: string; // a file
  issuer: string;
  namespace: string;
  serviceAccount: string;
  audiences: string[];
  account?: string;
  partition?: string;
  /** Gives the account and partition, as --account and --partition would. */
  providerArn?: string;
}

export interface CheckResult {
  decision: TrustDecision;
  /** What to print on stdout: `allowed: ...` or `refused: ...`, then one `hint: ...` line each. */
  text: string;
  code: 0 | 1;
}

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Reads the policy and evaluates it for the ServiceAccount's token. Bad input throws InputError. */
export async function checkTrustPolicy(flags: CheckFlags): Promise<CheckResult> {
  if (!/^https:\/\/[^/\s]+/i.test(flags.issuer)) {
    throw new InputError(`--issuer ${flags.issuer} must be an https:// URL (the token's iss claim)`);
  }
  if (!NAME.test(flags.namespace))
    throw new InputError(`--namespace ${flags.namespace} is not a namespace name`);
  if (!NAME.test(flags.serviceAccount)) {
    throw new InputError(`--service-account ${flags.serviceAccount} is not a ServiceAccount name`);
  }
  if (flags.account !== undefined && !/^\d{12}$/.test(flags.account)) {
    throw new InputError(`--account ${flags.account} is not a 12-digit AWS account ID`);
  }
  let named: { account?: string; partition?: string } = {};
  if (flags.providerArn !== undefined) {
    const parts = parseProviderArn(flags.providerArn);
    if (!parts) throw new InputError(`--provider-arn ${flags.providerArn} is not an OIDC provider ARN`);
    if (flags.account !== undefined && flags.account !== parts.account) {
      throw new InputError(`--provider-arn ${flags.providerArn} is not in --account ${flags.account}`);
    }
    named = { account: parts.account, partition: parts.partition };
  }
  let text: string;
  try {
    text = await readText(flags.policy);
  } catch (error) {
    throw new InputError((error as Error).message);
  }
  let policy: unknown;
  try {
    policy = JSON.parse(text);
  } catch (error) {
    throw new InputError(`${flags.policy}: invalid JSON: ${(error as Error).message}`);
  }
  try {
    const provider = providerAccountOf(policy, flags.issuer);
    const account = flags.account ?? named.account ?? provider?.account;
    if (account === undefined) {
      throw new InputError(
        `--account is required: ${flags.policy} names no OIDC provider ARN to take it from`,
      );
    }
    const decision = evaluateTrustPolicy(policy, {
      issuer: flags.issuer,
      subject: serviceAccountSubject(flags.namespace, flags.serviceAccount),
      audiences: flags.audiences.length > 0 ? flags.audiences : [DEFAULT_TOKEN_AUDIENCE],
      account,
      partition: flags.partition ?? named.partition ?? provider?.partition ?? DEFAULT_PARTITION,
    });
    const lines = [
      `${decision.allowed ? 'allowed' : 'refused'}: ${decision.reason}`,
      ...decision.hints.map((hint) => `hint: ${hint}`),
    ];
    return { decision, text: `${lines.join('\n')}\n`, code: decision.allowed ? 0 : 1 };
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`${flags.policy}: ${(error as Error).message}`);
  }
}
