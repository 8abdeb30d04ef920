// IAM role trust policies for IRSA: build one for some ServiceAccounts, and evaluate one for a
// ServiceAccount token as STS would (AssumeRoleWithWebIdentity), with a hint for each known mistake.
// Pure: no I/O. The string operators and their IAM rules live in iam-conditions.ts.
//
// Building, for several ServiceAccounts: one statement per `:sub` operator. Subjects without a
// wildcard share one StringEquals statement, subjects with `*` or `?` one StringLike statement:
// IAM ANDs the operator blocks of a statement, so StringEquals and StringLike on the same `:sub`
// key cannot live in one statement. Each statement carries the `:aud` condition too (StringEquals,
// or StringLike when an audience holds a wildcard; `:sub` and `:aud` may so sit under two operators
// of one statement).
//
// Cross-account: a role can only trust an OIDC provider registered in the role's own account, so
// the provider ARN's account is the role's account (register the cluster's issuer in it), which is
// what `account` means here; `providerArn` gives the ARN whole.
import { DEFAULT_TOKEN_AUDIENCE } from '../vocabulary.js';
import {
  conditionHolds,
  conditionValues,
  describe,
  isNegated,
  parseOperator,
  resolveValue,
  type ParsedOperator,
} from './iam-conditions.js';

export const ASSUME_ROLE_WITH_WEB_IDENTITY = 'sts:AssumeRoleWithWebIdentity';
export const POLICY_VERSION = '2012-10-17';
export const DEFAULT_PARTITION = 'aws';
const SUBJECT_PREFIX = 'system:serviceaccount:';

// ---------------------------------------------------------------------------------------------
// Names

/** The issuer as IAM spells it in provider ARNs and condition keys: no `https://`, no trailing `/`. */
export function issuerHostPath(issuer: string): string {
  return issuer.replace(/^https:\/\//i, '').replace(/\/+$/, '');
}

export function providerArn(partition: string, account: string, issuer: string): string {
  return `arn:${partition}:iam::${account}:oidc-provider/${issuerHostPath(issuer)}`;
}

const PROVIDER_ARN = /^arn:([a-z][a-z0-9-]*):iam::([^:]*):oidc-provider\/(.+)$/;

export interface ProviderArnParts {
  partition: string;
  account: string;
  issuerHostPath: string;
}

export function parseProviderArn(arn: string): ProviderArnParts | undefined {
  const match = PROVIDER_ARN.exec(arn);
  return match ? { partition: match[1]!, account: match[2]!, issuerHostPath: match[3]! } : undefined;
}

export const serviceAccountSubject = (namespace: string, name: string): string =>
  `${SUBJECT_PREFIX}${namespace}:${name}`;

const hasWildcard = (value: string): boolean => /[*?]/.test(value);

// ---------------------------------------------------------------------------------------------
// Building

export interface ServiceAccountPattern {
  namespace: string; // a namespace, or a pattern with `*` and `?`
  name: string; // a ServiceAccount name, or a pattern with `*` and `?`
}

export interface TrustPolicyOptions {
  /** The cluster's issuer URL (https://...); may be left out when `providerArn` is given. */
  issuer?: string;
  serviceAccounts: ServiceAccountPattern[];
  /** Token audiences (default: sts.amazonaws.com). */
  audiences?: string[];
  /** Account of the OIDC provider: the role's account (see the note at the top). */
  account?: string;
  /** The provider ARN whole, instead of account + partition + issuer. */
  providerArn?: string;
  /** Default `aws`; `aws-cn`, `aws-us-gov`, ... */
  partition?: string;
}

export type ConditionBlock = Record<string, string | string[]>;

export interface TrustStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal: { Federated: string };
  Action: string;
  Condition: Record<string, ConditionBlock>;
}

export interface TrustPolicy {
  Version: typeof POLICY_VERSION;
  Statement: TrustStatement[];
}

const NAMESPACE = /^[a-z0-9*?]([-a-z0-9*?]{0,61}[a-z0-9*?])?$/;
const SERVICE_ACCOUNT = /^[a-z0-9*?]([-a-z0-9.*?]{0,251}[a-z0-9*?])?$/;
const ACCOUNT = /^\d{12}$/;
const PARTITION = /^aws(-[a-z]+)*$/;

function checkIssuer(issuer: string): void {
  if (!/^https:\/\/[^/\s]+/i.test(issuer)) {
    throw new Error(`issuer "${issuer}" must be an https:// URL (the token's iss claim)`);
  }
}

/** The provider ARN the options name; errors say which option is wrong and why. */
function builtProviderArn(options: TrustPolicyOptions): { arn: string; hostPath: string } {
  const partition = options.partition ?? DEFAULT_PARTITION;
  if (!PARTITION.test(partition)) {
    throw new Error(`partition "${partition}" is not an AWS partition (aws, aws-cn, aws-us-gov, ...)`);
  }
  if (options.account !== undefined && !ACCOUNT.test(options.account)) {
    throw new Error(`account "${options.account}" is not a 12-digit AWS account ID`);
  }
  if (options.issuer !== undefined) checkIssuer(options.issuer);
  if (options.providerArn !== undefined) {
    const parts = parseProviderArn(options.providerArn);
    if (!parts || !ACCOUNT.test(parts.account)) {
      throw new Error(
        `provider ARN "${options.providerArn}" is not an OIDC provider ARN (arn:<partition>:iam::<account>:oidc-provider/<issuer without https://>)`,
      );
    }
    if (/^https?:\/\//i.test(parts.issuerHostPath)) {
      throw new Error(`provider ARN "${options.providerArn}" must name the issuer without https://`);
    }
    if (options.issuer !== undefined && issuerHostPath(options.issuer) !== parts.issuerHostPath) {
      throw new Error(
        `provider ARN "${options.providerArn}" is for issuer ${parts.issuerHostPath}, not ${issuerHostPath(options.issuer)}`,
      );
    }
    if (options.account !== undefined && options.account !== parts.account) {
      throw new Error(
        `provider ARN "${options.providerArn}" is in account ${parts.account}, not ${options.account}`,
      );
    }
    if (options.partition !== undefined && options.partition !== parts.partition) {
      throw new Error(
        `provider ARN "${options.providerArn}" is in partition ${parts.partition}, not ${options.partition}`,
      );
    }
    return { arn: options.providerArn, hostPath: parts.issuerHostPath };
  }
  if (options.issuer === undefined) throw new Error('an issuer (or a provider ARN) is required');
  if (options.account === undefined) throw new Error('an account (or a provider ARN) is required');
  return {
    arn: providerArn(partition, options.account, options.issuer),
    hostPath: issuerHostPath(options.issuer),
  };
}

const oneOrMany = (values: string[]): string | string[] => (values.length === 1 ? values[0]! : values);

/** The trust policy for `options.serviceAccounts` (see the note at the top for its shape). */
export function buildTrustPolicy(options: TrustPolicyOptions): TrustPolicy {
  const { arn, hostPath } = builtProviderArn(options);
  if (options.serviceAccounts.length === 0) throw new Error('at least one ServiceAccount is required');
  for (const { namespace, name } of options.serviceAccounts) {
    if (!NAMESPACE.test(namespace)) {
      throw new Error(
        `namespace "${namespace}" is not a namespace name (lowercase letters, digits and '-', at most 63; * and ? as wildcards)`,
      );
    }
    if (!SERVICE_ACCOUNT.test(name)) {
      throw new Error(
        `ServiceAccount name "${name}" is not a ServiceAccount name (lowercase letters, digits, '-' and '.'; * and ? as wildcards)`,
      );
    }
  }
  const audiences = [...new Set(options.audiences?.length ? options.audiences : [DEFAULT_TOKEN_AUDIENCE])];
  for (const audience of audiences) {
    if (audience === '') throw new Error('an audience must not be empty');
  }
  const subjects = [
    ...new Set(options.serviceAccounts.map((sa) => serviceAccountSubject(sa.namespace, sa.name))),
  ];
  const groups = [subjects.filter((s) => !hasWildcard(s)), subjects.filter(hasWildcard)];
  const audOperator = audiences.some(hasWildcard) ? 'StringLike' : 'StringEquals';
  return {
    Version: POLICY_VERSION,
    Statement: groups
      .filter((group) => group.length > 0)
      .map((group) => {
        const subOperator = group.some(hasWildcard) ? 'StringLike' : 'StringEquals';
        const condition: Record<string, ConditionBlock> = {};
        // As in AWS's examples: `:aud` first, then `:sub`.
        (condition[audOperator] ??= {})[`${hostPath}:aud`] = oneOrMany(audiences);
        (condition[subOperator] ??= {})[`${hostPath}:sub`] = oneOrMany(group);
        return {
          Effect: 'Allow',
          Principal: { Federated: arn },
          Action: ASSUME_ROLE_WITH_WEB_IDENTITY,
          Condition: condition,
        };
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Parsing (malformed policies are named precisely)

export class TrustPolicyError extends Error {
  override name = 'TrustPolicyError';
}

interface ParsedCondition {
  path: string; // Statement[0].Condition.StringEquals["key"]
  operator: ParsedOperator;
  key: string;
  values: string[];
}

interface ParsedStatement {
  label: string; // Statement[0] (Sid "X")
  effect: 'Allow' | 'Deny';
  principal: { any: true } | { any: false; negated: boolean; federated: string[] };
  action: { negated: boolean; patterns: string[] };
  conditions: ParsedCondition[];
}

interface ParsedPolicy {
  version: string | undefined;
  statements: ParsedStatement[];
}

const STATEMENT_ELEMENTS = [
  'Sid',
  'Effect',
  'Principal',
  'NotPrincipal',
  'Action',
  'NotAction',
  'Condition',
  'Resource',
  'NotResource',
];
const PRINCIPAL_TYPES = ['AWS', 'Federated', 'Service', 'CanonicalUser'];

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const keyPath = (key: string): string =>
  /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;

function unknownElement(path: string, key: string, known: string[]): TrustPolicyError {
  const fix = known.find((k) => k.toLowerCase() === key.toLowerCase());
  return new TrustPolicyError(
    `${path}: unknown element "${key}"${fix ? ` (element names are case-sensitive: "${fix}")` : ` (expected ${known.join(', ')})`}`,
  );
}

function stringList(value: unknown, path: string): string[] {
  const list: unknown[] = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new TrustPolicyError(`${path} must not be an empty array`);
  list.forEach((item, i) => {
    if (typeof item !== 'string' || item === '') {
      const where = Array.isArray(value) ? `${path}[${i}]` : path;
      throw new TrustPolicyError(`${where} must be a non-empty string, got ${describe(item)}`);
    }
  });
  return list as string[];
}

function parsePrincipal(value: unknown, path: string, negated: boolean): ParsedStatement['principal'] {
  // NotPrincipal "*" excludes everyone: the statement applies to no principal.
  const nobody = { any: false, negated: false, federated: [] };
  if (value === '*') return negated ? nobody : { any: true };
  if (!isObject(value)) {
    throw new TrustPolicyError(
      `${path} must be "*" or an object such as {"Federated": "<OIDC provider ARN>"}, got ${typeof value === 'string' ? JSON.stringify(value) : describe(value)}`,
    );
  }
  const types = Object.keys(value);
  if (types.length === 0) throw new TrustPolicyError(`${path} must name at least one principal`);
  const federated: string[] = [];
  let any = false;
  for (const type of types) {
    if (!PRINCIPAL_TYPES.includes(type)) throw unknownElement(path, type, PRINCIPAL_TYPES);
    const values = stringList(value[type], `${path}.${type}`);
    if (type === 'Federated') federated.push(...values);
    if (type === 'AWS' && values.includes('*')) any = true;
  }
  if (any) return negated ? nobody : { any: true };
  return { any: false, negated, federated };
}

function parseStatement(raw: unknown, path: string): ParsedStatement {
  if (!isObject(raw)) throw new TrustPolicyError(`${path} must be an object, got ${describe(raw)}`);
  for (const key of Object.keys(raw)) {
    if (!STATEMENT_ELEMENTS.includes(key)) throw unknownElement(path, key, STATEMENT_ELEMENTS);
  }
  const sid = raw['Sid'];
  if (sid !== undefined && typeof sid !== 'string') {
    throw new TrustPolicyError(`${path}.Sid must be a string, got ${describe(sid)}`);
  }
  const label = sid ? `${path} (Sid ${JSON.stringify(sid)})` : path;
  const effect = raw['Effect'];
  if (effect !== 'Allow' && effect !== 'Deny') {
    throw new TrustPolicyError(
      `${path}.Effect must be "Allow" or "Deny", got ${effect === undefined ? 'nothing' : JSON.stringify(effect)}`,
    );
  }
  for (const prohibited of ['Resource', 'NotResource']) {
    if (prohibited in raw) {
      throw new TrustPolicyError(
        `${path}.${prohibited}: a trust policy names no resource (the role is the resource)`,
      );
    }
  }
  if ('Principal' in raw && 'NotPrincipal' in raw) {
    throw new TrustPolicyError(`${path} has both Principal and NotPrincipal; give one`);
  }
  if (!('Principal' in raw) && !('NotPrincipal' in raw)) {
    throw new TrustPolicyError(
      `${path} has no Principal: a trust policy statement names who may assume the role`,
    );
  }
  const principal =
    'Principal' in raw
      ? parsePrincipal(raw['Principal'], `${path}.Principal`, false)
      : parsePrincipal(raw['NotPrincipal'], `${path}.NotPrincipal`, true);
  if ('Action' in raw && 'NotAction' in raw) {
    throw new TrustPolicyError(`${path} has both Action and NotAction; give one`);
  }
  if (!('Action' in raw) && !('NotAction' in raw)) {
    throw new TrustPolicyError(`${path} has no Action (expected "${ASSUME_ROLE_WITH_WEB_IDENTITY}")`);
  }
  const negatedAction = !('Action' in raw);
  const actionPath = `${path}.${negatedAction ? 'NotAction' : 'Action'}`;
  const patterns = stringList(raw[negatedAction ? 'NotAction' : 'Action'], actionPath);
  patterns.forEach((action, i) => {
    if (action !== '*' && !/^[a-zA-Z0-9-]+:[a-zA-Z0-9*?]+$/.test(action)) {
      throw new TrustPolicyError(
        `${Array.isArray(raw[negatedAction ? 'NotAction' : 'Action']) ? `${actionPath}[${i}]` : actionPath}: "${action}" is not an action (service:Action, such as ${ASSUME_ROLE_WITH_WEB_IDENTITY})`,
      );
    }
  });
  const conditions: ParsedCondition[] = [];
  const condition = raw['Condition'];
  if (condition !== undefined) {
    const conditionPath = `${path}.Condition`;
    if (!isObject(condition)) {
      throw new TrustPolicyError(`${conditionPath} must be an object, got ${describe(condition)}`);
    }
    for (const [name, block] of Object.entries(condition)) {
      const operatorPath = `${conditionPath}${keyPath(name)}`;
      const parsed = parseOperator(name);
      if ('error' in parsed) throw new TrustPolicyError(`${operatorPath}: ${parsed.error}`);
      if (!isObject(block)) {
        throw new TrustPolicyError(
          `${operatorPath} must be an object of condition keys, got ${describe(block)}`,
        );
      }
      for (const [key, rawValues] of Object.entries(block)) {
        const valuePath = `${operatorPath}${keyPath(key)}`;
        const values = conditionValues(rawValues);
        if ('error' in values) throw new TrustPolicyError(`${valuePath} ${values.error}`);
        if (parsed.operator.base === 'Null' && values.values.some((v) => v !== 'true' && v !== 'false')) {
          throw new TrustPolicyError(`${valuePath} must be "true" or "false" for Null`);
        }
        conditions.push({ path: valuePath, operator: parsed.operator, key, values: values.values });
      }
    }
  }
  return { label, effect, principal, action: { negated: negatedAction, patterns }, conditions };
}

function parsePolicy(policy: unknown): ParsedPolicy {
  if (!isObject(policy))
    throw new TrustPolicyError(`the policy must be a JSON object, got ${describe(policy)}`);
  for (const key of Object.keys(policy)) {
    if (!['Version', 'Id', 'Statement'].includes(key))
      throw unknownElement('the policy', key, ['Version', 'Id', 'Statement']);
  }
  const version = policy['Version'];
  if (version !== undefined && version !== POLICY_VERSION && version !== '2008-10-17') {
    throw new TrustPolicyError(
      `Version must be "${POLICY_VERSION}" (or the older "2008-10-17"), got ${JSON.stringify(version)}`,
    );
  }
  const raw = policy['Statement'];
  if (raw === undefined) throw new TrustPolicyError('the policy has no Statement');
  const list: unknown[] = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw new TrustPolicyError('Statement must not be an empty array');
  const statements = list.map((statement, i) =>
    parseStatement(statement, Array.isArray(raw) ? `Statement[${i}]` : 'Statement'),
  );
  const sids = new Set<string>();
  for (const [i, statement] of list.entries()) {
    const sid = (statement as Record<string, unknown>)['Sid'];
    if (typeof sid === 'string' && sid !== '') {
      if (sids.has(sid))
        throw new TrustPolicyError(`Statement[${i}].Sid ${JSON.stringify(sid)} is not unique`);
      sids.add(sid);
    }
  }
  return { version: version as string | undefined, statements };
}

// ---------------------------------------------------------------------------------------------
// Evaluating

export interface WebIdentityRequest {
  issuer: string; // the token's iss, e.g. https://oidc.example.com/id/ABC (https:// included)
  subject: string; // the token's sub, system:serviceaccount:<ns>:<name>
  audiences: string[]; // the token's aud values
  account: string; // account of the role being assumed: the provider ARN must be in it
  partition?: string; // default 'aws'
}

export interface TrustDecision {
  allowed: boolean;
  reason: string;
  hints: string[];
}

interface Context {
  hostPath: string;
  providerArn: string;
  keys: Map<string, string[]>; // lowercased key → values
  keyNames: string[]; // the request's keys, as IAM spells them
  variables: boolean;
}

function contextOf(request: WebIdentityRequest, variables: boolean): Context {
  const hostPath = issuerHostPath(request.issuer);
  const keys = new Map<string, string[]>([[`${hostPath}:sub`.toLowerCase(), [request.subject]]]);
  if (request.audiences.length > 0) keys.set(`${hostPath}:aud`.toLowerCase(), [...request.audiences]);
  return {
    hostPath,
    keyNames: [`${hostPath}:sub`, ...(request.audiences.length > 0 ? [`${hostPath}:aud`] : [])],
    providerArn: providerArn(request.partition ?? DEFAULT_PARTITION, request.account, request.issuer),
    keys,
    variables,
  };
}

const quoted = (values: string[]): string =>
  values.length === 1
    ? JSON.stringify(values[0])
    : `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
const tokenValues = (values: string[]): string =>
  values.length === 1
    ? `is ${JSON.stringify(values[0])}`
    : `are [${values.map((v) => JSON.stringify(v)).join(', ')}]`;

function actionMatches(pattern: string): boolean {
  const source = pattern
    .split(/([*?])/)
    .map((part) => (part === '*' ? '.*' : part === '?' ? '.' : part.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, 'i').test(ASSUME_ROLE_WITH_WEB_IDENTITY);
}

/** Why a statement does not apply to the request, or undefined when it does. */
function whyNot(statement: ParsedStatement, context: Context): string | undefined {
  const { principal, action } = statement;
  if (!principal.any) {
    const listed = principal.federated.includes(context.providerArn);
    if (principal.negated && listed) {
      return `NotPrincipal excludes this token's provider ${context.providerArn}`;
    }
    if (!principal.negated && !listed) {
      return principal.federated.length === 0
        ? `its Principal names no Federated provider (this token's is ${context.providerArn})`
        : `its Principal.Federated is ${quoted(principal.federated)}, not this token's provider ${context.providerArn}`;
    }
  }
  const matched = action.patterns.some(actionMatches);
  if (action.negated === matched) {
    return action.negated
      ? `its NotAction excludes ${ASSUME_ROLE_WITH_WEB_IDENTITY}`
      : `its Action ${quoted(action.patterns)} does not cover ${ASSUME_ROLE_WITH_WEB_IDENTITY}`;
  }
  for (const condition of statement.conditions) {
    const failure = conditionFailure(condition, context);
    if (failure) return failure;
  }
  return undefined;
}

function conditionFailure(condition: ParsedCondition, context: Context): string | undefined {
  const { operator, key } = condition;
  const values = context.keys.get(key.toLowerCase());
  const lookup = (name: string) => {
    const found = context.keys.get(name.toLowerCase());
    return found?.length === 1 ? found[0] : undefined;
  };
  const like = operator.base === 'StringLike' || operator.base === 'StringNotLike';
  const resolved = condition.values.map((v) => resolveValue(v, like, context.variables, lookup));
  if (conditionHolds(operator, resolved, values)) return undefined;
  const head = `${operator.name} ${JSON.stringify(key)}`;
  if (values === undefined) {
    if (operator.base === 'Null')
      return `${head} is "false" (the key must be present), but the token has no such key`;
    return `${head}: the token has no such key (its keys are ${context.keyNames.map((k) => JSON.stringify(k)).join(', ')}), so the condition fails`;
  }
  if (operator.base === 'Null') return `${head} is "true" (the key must be absent), but the token has it`;
  const expected = like ? `a match for ${quoted(condition.values)}` : quoted(condition.values);
  const negated = isNegated(operator.base);
  const unresolved = condition.values.filter((_, i) => resolved[i] === undefined);
  const note = unresolved.length
    ? ` (${unresolved.map((v) => JSON.stringify(v)).join(', ')} names a policy variable the request has no value for)`
    : '';
  if (operator.set === 'ForAllValues') {
    return `${head} expects every value to ${negated ? 'differ from' : 'be'} ${expected}; the token's ${tokenValues(values)}${note}`;
  }
  if (operator.set === 'ForAnyValue') {
    return `${head} expects at least one value to ${negated ? 'differ from' : 'be'} ${expected}; the token's ${tokenValues(values)}${note}`;
  }
  return negated
    ? `${head} refuses ${expected}, and the token's ${tokenValues(values)}${note}`
    : `${head} expects ${expected}, but the token's ${tokenValues(values)}${note}`;
}

/**
 * Whether STS would let a token (issuer, subject, audiences) assume a role with this trust policy,
 * with IAM's rules: an explicit Deny wins; otherwise one applying Allow is needed. A statement
 * applies when its Principal (the token's OIDC provider ARN in the role's account, or `*`), its
 * Action and every condition (AND across operators and keys, OR across one key's values) match.
 * Throws TrustPolicyError, naming the place, for a malformed policy.
 */
export function evaluateTrustPolicy(policy: unknown, request: WebIdentityRequest): TrustDecision {
  const parsed = parsePolicy(policy);
  const context = contextOf(request, parsed.version === POLICY_VERSION);
  const hints = hintsFor(parsed, context);
  const outcomes = parsed.statements.map((statement) => ({ statement, why: whyNot(statement, context) }));
  const deny = outcomes.find((o) => o.statement.effect === 'Deny' && o.why === undefined);
  if (deny) {
    return {
      allowed: false,
      reason: `${deny.statement.label} denies it explicitly (an explicit Deny wins over any Allow)${conditionSummary(deny.statement)}`,
      hints,
    };
  }
  const allow = outcomes.find((o) => o.statement.effect === 'Allow' && o.why === undefined);
  if (allow) {
    return {
      allowed: true,
      reason: `${allow.statement.label} allows it: principal ${allow.statement.principal.any ? '*' : context.providerArn}, action ${ASSUME_ROLE_WITH_WEB_IDENTITY}${conditionSummary(allow.statement)}`,
      hints,
    };
  }
  const refusals = outcomes.filter((o) => o.statement.effect === 'Allow');
  if (refusals.length === 0) return { allowed: false, reason: 'the policy has no Allow statement', hints };
  const reason =
    refusals.length === 1
      ? `${refusals[0]!.statement.label} does not allow it: ${refusals[0]!.why}`
      : `no statement allows it: ${refusals.map((o) => `${o.statement.label}: ${o.why}`).join('; ')}`;
  return { allowed: false, reason, hints };
}

function conditionSummary(statement: ParsedStatement): string {
  if (statement.conditions.length === 0) return ', no condition';
  return `, conditions hold: ${statement.conditions
    .map(
      (c) =>
        `${c.operator.name} ${JSON.stringify(c.key)} ${c.values.length === 1 ? JSON.stringify(c.values[0]) : JSON.stringify(c.values)}`,
    )
    .join(', ')}`;
}

// ---------------------------------------------------------------------------------------------
// Hints: the known mistakes

function hintsFor(parsed: ParsedPolicy, context: Context): string[] {
  const hints: string[] = [];
  const add = (hint: string) => hints.includes(hint) || hints.push(hint);
  const sub = `${context.hostPath}:sub`;
  const aud = `${context.hostPath}:aud`;
  if (parsed.version !== POLICY_VERSION) {
    add(
      `Version is ${parsed.version === undefined ? 'missing (IAM then reads the policy as "2008-10-17")' : '"2008-10-17"'}: policy variables such as \${aws:username} are not replaced; use "Version": "${POLICY_VERSION}"`,
    );
  }
  const principalMatches = (s: ParsedStatement) =>
    s.principal.any ||
    (s.principal.negated
      ? !s.principal.federated.includes(context.providerArn)
      : s.principal.federated.includes(context.providerArn));
  for (const statement of parsed.statements) {
    for (const condition of statement.conditions) {
      const key = condition.key;
      const lower = key.toLowerCase();
      if (lower.endsWith(':aud')) {
        const subject = condition.values.find((v) => v.startsWith(SUBJECT_PREFIX));
        if (subject !== undefined) {
          add(
            `${condition.path} holds the ServiceAccount ${JSON.stringify(subject)} under :aud: that is the token's subject and belongs under "${sub}"; :aud is the token's audience (${DEFAULT_TOKEN_AUDIENCE})`,
          );
        }
      }
      if (/^https?:\/\//i.test(key)) {
        add(
          `${condition.path}: the condition key ${JSON.stringify(key)} includes ${/^https/i.test(key) ? 'https://' : 'http://'}, but IAM's keys are the issuer without it ("${key.replace(/^https?:\/\//i, '')}")`,
        );
      } else if (
        principalMatches(statement) &&
        /:(sub|aud)$/.test(lower) &&
        !lower.startsWith('aws:') &&
        lower.slice(0, lower.lastIndexOf(':')) !== context.hostPath.toLowerCase()
      ) {
        add(
          `${condition.path}: the condition key ${JSON.stringify(key)} is for issuer ${key.slice(0, key.lastIndexOf(':'))}, not this token's ${context.hostPath}, so the token never has it`,
        );
      }
      const base = condition.operator.base;
      if (base !== 'Null' && !base.includes('Like')) {
        const literal = condition.values.find((v) => v.includes('*'));
        if (literal !== undefined) {
          const subjectWildcard = lower.endsWith(':sub') && /^system:serviceaccount:[^:]+:\*$/.test(literal);
          add(
            `${condition.path}: ${condition.operator.name} compares ${JSON.stringify(literal)} literally, so "*" is no wildcard there${subjectWildcard ? ' and no ServiceAccount of the namespace matches' : ''}; use ${condition.operator.name.replace(/StringEquals|StringNotEquals/, (m) => (m === 'StringEquals' ? 'StringLike' : 'StringNotLike')).replace('IgnoreCase', '')}`,
          );
        }
      }
    }
    if (statement.effect === 'Allow' && !statement.principal.any && principalMatches(statement)) {
      const keys = statement.conditions.map((c) => c.key.toLowerCase());
      if (!keys.includes(aud.toLowerCase())) {
        add(
          `${statement.label} has no condition on "${aud}": a token of this issuer for any audience passes; add "StringEquals": {"${aud}": "${DEFAULT_TOKEN_AUDIENCE}"}`,
        );
      }
      if (!keys.includes(sub.toLowerCase())) {
        add(
          `${statement.label} has no condition on "${sub}": every ServiceAccount of the cluster can assume the role; add "StringEquals": {"${sub}": "${SUBJECT_PREFIX}<namespace>:<name>"}`,
        );
      }
    }
  }
  if (!parsed.statements.some(principalMatches)) {
    const federated = [
      ...new Set(
        parsed.statements.flatMap((s) =>
          s.principal.any || s.principal.negated ? [] : s.principal.federated,
        ),
      ),
    ];
    for (const arn of federated) {
      const parts = parseProviderArn(arn);
      if (!parts) {
        add(
          `Principal.Federated ${JSON.stringify(arn)} is not an OIDC provider ARN; this token's provider is ${context.providerArn}`,
        );
      } else if (/^https?:\/\//i.test(parts.issuerHostPath)) {
        add(
          `Principal.Federated ${JSON.stringify(arn)} includes https://: a provider ARN ends in the issuer without it (${context.providerArn})`,
        );
      } else if (parts.issuerHostPath !== context.hostPath) {
        add(
          `Principal.Federated ${JSON.stringify(arn)} is the provider of another issuer (${parts.issuerHostPath}) than the token's (${context.hostPath}); this token's provider is ${context.providerArn}`,
        );
      } else if (parts.account !== context.providerArn.split(':')[4]) {
        add(
          `Principal.Federated ${JSON.stringify(arn)} is the provider in account ${parts.account}, but the role is in account ${context.providerArn.split(':')[4]}: a role trusts only a provider registered in its own account (cross-account: register the issuer as an OIDC provider in the role's account and name that ARN)`,
        );
      } else {
        add(
          `Principal.Federated ${JSON.stringify(arn)} is in partition ${parts.partition}, but the role is in partition ${context.providerArn.split(':')[1]}`,
        );
      }
    }
  }
  return hints;
}

/**
 * The account and partition of the policy's OIDC provider for `issuer` (or of its first OIDC
 * provider when none is for that issuer): the role's account, when the caller does not know it.
 */
export function providerAccountOf(policy: unknown, issuer: string): ProviderArnParts | undefined {
  const parsed = parsePolicy(policy);
  const all = parsed.statements
    .flatMap((s) => (s.principal.any ? [] : s.principal.federated))
    .map(parseProviderArn)
    .filter((p): p is ProviderArnParts => p !== undefined);
  return all.find((p) => p.issuerHostPath === issuerHostPath(issuer)) ?? all[0];
}
