// Trust policies: the builder, the evaluator (IAM's rules for AssumeRoleWithWebIdentity) and the
// hints for the known mistakes. Example policies live in test/unit/trust-policies/.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  buildTrustPolicy,
  evaluateTrustPolicy,
  issuerHostPath,
  providerAccountOf,
  providerArn,
  TrustPolicyError,
  type WebIdentityRequest,
} from '../../src/irsa/trust-policy.js';

/** A copy of an object without one key. */
const without = <T extends object>(object: T, key: keyof T): Partial<T> =>
  Object.fromEntries(Object.entries(object).filter(([k]) => k !== key)) as Partial<T>;

const example = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`./trust-policies/${name}.json`, import.meta.url), 'utf8'));

// AWS's documented example issuer and account.
const ISSUER = 'https://oidc.eks.region-code.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';
const HOST = 'oidc.eks.region-code.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';
const ACCOUNT = '111122223333';
const ARN = `arn:aws:iam::${ACCOUNT}:oidc-provider/${HOST}`;
const SUB = `${HOST}:sub`;
const AUD = `${HOST}:aud`;

const token = (subject: string, overrides: Partial<WebIdentityRequest> = {}): WebIdentityRequest => ({
  issuer: ISSUER,
  subject: subject.startsWith('system:') ? subject : `system:serviceaccount:${subject.replace('/', ':')}`,
  audiences: ['sts.amazonaws.com'],
  account: ACCOUNT,
  ...overrides,
});

/** One Allow statement for the example provider with these conditions. */
const policy = (condition: Record<string, Record<string, unknown>> | undefined, extra: object = {}) => ({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { Federated: ARN },
      Action: 'sts:AssumeRoleWithWebIdentity',
      ...(condition ? { Condition: condition } : {}),
      ...extra,
    },
  ],
});

describe('names', () => {
  it('drops https:// and a trailing slash from the issuer', () => {
    expect(issuerHostPath('https://oidc.example.com/id/ABC/')).toBe('oidc.example.com/id/ABC');
  });
  it('builds the provider ARN in a partition', () => {
    expect(providerArn('aws-cn', '123456789012', 'https://oidc.example.cn/x')).toBe(
      'arn:aws-cn:iam::123456789012:oidc-provider/oidc.example.cn/x',
    );
  });
});

describe("AWS's documented IRSA trust policies", () => {
  it.each([
    [
      'StringEquals example, its ServiceAccount',
      'eks-docs-string-equals',
      'default/my-service-account',
      true,
    ],
    ['StringEquals example, another name', 'eks-docs-string-equals', 'default/other', false],
    ['StringEquals example, another namespace', 'eks-docs-string-equals', 'prod/my-service-account', false],
    ['StringLike example, any name in default', 'eks-docs-string-like', 'default/anything', true],
    ['StringLike example, another namespace', 'eks-docs-string-like', 'prod/anything', false],
  ])('%s', (_name, file, sa, allowed) => {
    const decision = evaluateTrustPolicy(example(file), token(sa));
    expect(decision.allowed).toBe(allowed);
    expect(decision.hints).toEqual([]);
    if (!allowed) expect(decision.reason).toContain(`"${SUB}"`);
  });

  it('names the statement and what held when allowed', () => {
    expect(
      evaluateTrustPolicy(example('eks-docs-string-equals'), token('default/my-service-account')).reason,
    ).toBe(
      `Statement[0] allows it: principal ${ARN}, action sts:AssumeRoleWithWebIdentity, conditions hold: StringEquals "${AUD}" "sts.amazonaws.com", StringEquals "${SUB}" "system:serviceaccount:default:my-service-account"`,
    );
  });

  it('names the :sub condition, the expected and the token value when refused', () => {
    expect(
      evaluateTrustPolicy(example('eks-docs-string-equals'), token('prod/my-service-account')).reason,
    ).toBe(
      `Statement[0] does not allow it: StringEquals "${SUB}" expects "system:serviceaccount:default:my-service-account", but the token's is "system:serviceaccount:prod:my-service-account"`,
    );
  });

  it('refuses another audience, naming the :aud condition', () => {
    const decision = evaluateTrustPolicy(
      example('eks-docs-string-equals'),
      token('default/my-service-account', { audiences: ['vault'] }),
    );
    expect(decision).toMatchObject({ allowed: false });
    expect(decision.reason).toContain(
      `StringEquals "${AUD}" expects "sts.amazonaws.com", but the token's is "vault"`,
    );
  });
});

describe('condition operators', () => {
  const S = 'system:serviceaccount:default:app';
  it.each([
    ['StringEquals, equal', 'StringEquals', S, S, true],
    ['StringEquals, case differs', 'StringEquals', S.toUpperCase(), S, false],
    ['StringEquals, one of several', 'StringEquals', ['x', S], S, true],
    ['StringNotEquals, equal', 'StringNotEquals', S, S, false],
    ['StringNotEquals, different', 'StringNotEquals', 'x', S, true],
    ['StringEqualsIgnoreCase, case differs', 'StringEqualsIgnoreCase', S.toUpperCase(), S, true],
    ['StringNotEqualsIgnoreCase, case differs', 'StringNotEqualsIgnoreCase', S.toUpperCase(), S, false],
    ['StringLike, *', 'StringLike', 'system:serviceaccount:*:app', S, true],
    ['StringLike, * matches nothing too', 'StringLike', 'system:serviceaccount:default:app*', S, true],
    ['StringLike, ? one character', 'StringLike', 'system:serviceaccount:default:a?p', S, true],
    ['StringLike, ? not zero characters', 'StringLike', 'system:serviceaccount:default:app?', S, false],
    ['StringLike, case-sensitive', 'StringLike', 'SYSTEM:*', S, false],
    ['StringLike, no wildcard is exact', 'StringLike', 'system:serviceaccount:default', S, false],
    ['StringLike, regex characters are literal', 'StringLike', 'system.serviceaccount.*', S, false],
    ['StringLike, ${*} is a literal star', 'StringLike', 'system:serviceaccount:default:${*}', S, false],
    ['StringNotLike, matching', 'StringNotLike', 'system:serviceaccount:default:*', S, false],
    ['StringNotLike, not matching', 'StringNotLike', 'system:serviceaccount:kube-system:*', S, true],
    ['StringEqualsIfExists, present and equal', 'StringEqualsIfExists', S, S, true],
    ['StringEqualsIfExists, present and different', 'StringEqualsIfExists', 'x', S, false],
    ['StringLikeIfExists, present', 'StringLikeIfExists', '*:default:*', S, true],
    ['StringNotLikeIfExists, present and matching', 'StringNotLikeIfExists', '*:default:*', S, false],
  ])('%s', (_name, operator, values, subject, allowed) => {
    const decision = evaluateTrustPolicy(
      policy({ StringEquals: { [AUD]: 'sts.amazonaws.com' }, [operator]: { [SUB]: values } }),
      token(subject),
    );
    expect(decision.allowed).toBe(allowed);
    if (!allowed) expect(decision.reason).toContain(`${operator} "${SUB}"`);
  });

  it.each([
    ['StringEquals fails', 'StringEquals', false],
    ['StringLike fails', 'StringLike', false],
    ['StringEqualsIgnoreCase fails', 'StringEqualsIgnoreCase', false],
    ['StringNotEquals holds', 'StringNotEquals', true],
    ['StringNotLike holds', 'StringNotLike', true],
    ['StringEqualsIfExists holds', 'StringEqualsIfExists', true],
    ['StringLikeIfExists holds', 'StringLikeIfExists', true],
    ['ForAnyValue:StringEquals fails', 'ForAnyValue:StringEquals', false],
    ['ForAllValues:StringEquals holds', 'ForAllValues:StringEquals', true],
  ])('on a key the token does not have: %s', (_name, operator, allowed) => {
    const key = `${HOST}:amr`;
    const decision = evaluateTrustPolicy(
      policy({
        StringEquals: { [AUD]: 'sts.amazonaws.com', [SUB]: 'system:serviceaccount:default:app' },
        [operator]: { [key]: 'x' },
      }),
      token('default/app'),
    );
    expect(decision.allowed).toBe(allowed);
    if (!allowed) {
      expect(decision.reason).toBe(
        `Statement[0] does not allow it: ${operator} "${key}": the token has no such key (its keys are "${SUB}", "${AUD}"), so the condition fails`,
      );
    }
  });

  it.each([
    ['Null true on an absent key', { Null: { [`${HOST}:amr`]: 'true' } }, true],
    ['Null false on an absent key', { Null: { [`${HOST}:amr`]: 'false' } }, false],
    ['Null false on a present key', { Null: { [SUB]: 'false' } }, true],
    ['Null true on a present key', { Null: { [SUB]: 'true' } }, false],
  ])('%s', (_name, condition, allowed) => {
    expect(
      evaluateTrustPolicy(
        policy({ StringEquals: { [AUD]: 'sts.amazonaws.com' }, ...condition }),
        token('default/app'),
      ).allowed,
    ).toBe(allowed);
  });

  it('reads condition keys case-insensitively', () => {
    const decision = evaluateTrustPolicy(
      policy({
        StringEquals: {
          [AUD.toUpperCase()]: 'sts.amazonaws.com',
          [SUB.toUpperCase()]: 'system:serviceaccount:default:app',
        },
      }),
      token('default/app'),
    );
    expect(decision.allowed).toBe(true);
  });

  it('ANDs the keys of a block and the blocks of a statement', () => {
    const p = policy({
      StringEquals: { [AUD]: 'sts.amazonaws.com' },
      StringLike: { [SUB]: 'system:serviceaccount:default:*' },
      StringNotEquals: { [SUB]: 'system:serviceaccount:default:admin' },
    });
    expect(evaluateTrustPolicy(p, token('default/app')).allowed).toBe(true);
    expect(evaluateTrustPolicy(p, token('default/admin')).reason).toContain(
      `StringNotEquals "${SUB}" refuses "system:serviceaccount:default:admin", and the token's is "system:serviceaccount:default:admin"`,
    );
  });

  it('replaces policy variables in Version 2012-10-17 only', () => {
    const condition = { StringEquals: { [AUD]: 'sts.amazonaws.com', [SUB]: `\${${SUB}}` } };
    expect(evaluateTrustPolicy(policy(condition), token('default/app')).allowed).toBe(true);
    expect(
      evaluateTrustPolicy({ ...policy(condition), Version: '2008-10-17' }, token('default/app')).allowed,
    ).toBe(false);
  });
});

describe('multi-valued aud', () => {
  const two = ['sts.amazonaws.com', 'vault'];
  it.each([
    ['ForAnyValue:StringEquals, one matches', 'ForAnyValue:StringEquals', 'sts.amazonaws.com', two, true],
    ['ForAnyValue:StringEquals, none matches', 'ForAnyValue:StringEquals', 'other', two, false],
    [
      'ForAllValues:StringEquals, not every value listed',
      'ForAllValues:StringEquals',
      'sts.amazonaws.com',
      two,
      false,
    ],
    ['ForAllValues:StringEquals, every value listed', 'ForAllValues:StringEquals', two, two, true],
    ['ForAllValues:StringLike, every value matches', 'ForAllValues:StringLike', ['sts.*', 'v*'], two, true],
    ['ForAnyValue:StringNotEquals, one differs', 'ForAnyValue:StringNotEquals', 'vault', two, true],
    ['ForAllValues:StringNotEquals, one is refused', 'ForAllValues:StringNotEquals', 'vault', two, false],
    ['ForAllValues:StringNotLike, none matches', 'ForAllValues:StringNotLike', 'x*', two, true],
    ['ForAnyValue:StringLikeIfExists, one matches', 'ForAnyValue:StringLikeIfExists', 'v*', two, true],
    // No set prefix on a multi-valued key: positive when any value matches, negated when none does.
    ['plain StringEquals, one of two matches', 'StringEquals', 'sts.amazonaws.com', two, true],
    ['plain StringEquals, neither matches', 'StringEquals', 'other', two, false],
    ['plain StringNotEquals, one of two is refused', 'StringNotEquals', 'vault', two, false],
    ['plain StringNotEquals, neither is refused', 'StringNotEquals', 'other', two, true],
    [
      'plain StringEquals, a single-valued aud',
      'StringEquals',
      'sts.amazonaws.com',
      ['sts.amazonaws.com'],
      true,
    ],
    [
      'ForAnyValue on a single-valued key',
      'ForAnyValue:StringEquals',
      'sts.amazonaws.com',
      ['sts.amazonaws.com'],
      true,
    ],
  ])('%s', (_name, operator, values, audiences, allowed) => {
    const decision = evaluateTrustPolicy(
      policy({ StringEquals: { [SUB]: 'system:serviceaccount:default:app' }, [operator]: { [AUD]: values } }),
      token('default/app', { audiences }),
    );
    expect(decision.allowed).toBe(allowed);
    if (!allowed) expect(decision.reason).toContain(`${operator} "${AUD}"`);
  });

  it('says which values a ForAllValues condition saw', () => {
    expect(
      evaluateTrustPolicy(
        policy({
          StringEquals: { [SUB]: 'system:serviceaccount:default:app' },
          'ForAllValues:StringEquals': { [AUD]: 'sts.amazonaws.com' },
        }),
        token('default/app', { audiences: two }),
      ).reason,
    ).toBe(
      `Statement[0] does not allow it: ForAllValues:StringEquals "${AUD}" expects every value to be "sts.amazonaws.com"; the token's are ["sts.amazonaws.com", "vault"]`,
    );
  });
});

describe('statements, principals and actions', () => {
  const allow = {
    Effect: 'Allow',
    Principal: { Federated: ARN },
    Action: 'sts:AssumeRoleWithWebIdentity',
    Condition: {
      StringEquals: { [AUD]: 'sts.amazonaws.com' },
      StringLike: { [SUB]: 'system:serviceaccount:default:*' },
    },
  };
  const deny = {
    Sid: 'NoAdmin',
    Effect: 'Deny',
    Principal: '*',
    Action: 'sts:*',
    Condition: { StringEquals: { [SUB]: 'system:serviceaccount:default:admin' } },
  };

  it('lets an explicit Deny win over an Allow, whatever the order', () => {
    for (const statements of [
      [allow, deny],
      [deny, allow],
    ]) {
      const decision = evaluateTrustPolicy(
        { Version: '2012-10-17', Statement: statements },
        token('default/admin'),
      );
      expect(decision.allowed).toBe(false);
      expect(decision.reason).toMatch(
        /^Statement\[\d\] \(Sid "NoAdmin"\) denies it explicitly \(an explicit Deny wins over any Allow\)/,
      );
    }
    expect(
      evaluateTrustPolicy({ Version: '2012-10-17', Statement: [deny, allow] }, token('default/app')).allowed,
    ).toBe(true);
  });

  it('accepts a single statement object', () => {
    expect(
      evaluateTrustPolicy({ Version: '2012-10-17', Statement: allow }, token('default/app')).reason,
    ).toMatch(/^Statement allows it/);
  });

  it('refuses when no statement is Allow', () => {
    expect(
      evaluateTrustPolicy(
        { Version: '2012-10-17', Statement: [{ ...deny, Condition: { StringEquals: { [SUB]: 'x' } } }] },
        token('default/app'),
      ),
    ).toMatchObject({
      allowed: false,
      reason: 'the policy has no Allow statement',
    });
  });

  it('names every refusing statement when several allow nothing', () => {
    const other = {
      ...allow,
      Sid: 'Prod',
      Condition: { StringEquals: { [AUD]: 'sts.amazonaws.com', [SUB]: 'system:serviceaccount:prod:app' } },
    };
    const reason = evaluateTrustPolicy(
      { Version: '2012-10-17', Statement: [allow, other] },
      token('kube-system/app'),
    ).reason;
    expect(reason).toMatch(
      /^no statement allows it: Statement\[0\]: StringLike .*; Statement\[1\] \(Sid "Prod"\): StringEquals "[^"]+:sub" expects/,
    );
  });

  it.each([
    ['sts:AssumeRoleWithWebIdentity', { Action: 'sts:AssumeRoleWithWebIdentity' }, true],
    ['a list with it', { Action: ['sts:TagSession', 'sts:AssumeRoleWithWebIdentity'] }, true],
    ['sts:*', { Action: 'sts:*' }, true],
    ['*', { Action: '*' }, true],
    ['a ? wildcard, any case', { Action: 'STS:AssumeRoleWith?ebIdentity' }, true],
    ['sts:AssumeRole', { Action: 'sts:AssumeRole' }, false],
    ['NotAction without it', { NotAction: 'sts:AssumeRole' }, true],
    ['NotAction with it', { NotAction: 'sts:AssumeRoleWith*' }, false],
  ])('Action: %s', (_name, action, allowed) => {
    const rest = without(allow, 'Action');
    const decision = evaluateTrustPolicy(
      { Version: '2012-10-17', Statement: { ...rest, ...action } },
      token('default/app'),
    );
    expect(decision.allowed).toBe(allowed);
    if (!allowed) expect(decision.reason).toMatch(/Action/);
  });

  it.each([
    ['Principal "*"', { Principal: '*' }, true],
    ['Principal AWS "*"', { Principal: { AWS: '*' } }, true],
    [
      'a list of providers with this one',
      { Principal: { Federated: ['arn:aws:iam::111122223333:oidc-provider/other', ARN] } },
      true,
    ],
    ['an AWS account', { Principal: { AWS: 'arn:aws:iam::111122223333:root' } }, false],
    [
      'NotPrincipal of another provider',
      { NotPrincipal: { Federated: 'arn:aws:iam::111122223333:oidc-provider/other' } },
      true,
    ],
    ['NotPrincipal of this provider', { NotPrincipal: { Federated: ARN } }, false],
    ['NotPrincipal "*" (excludes everyone)', { NotPrincipal: '*' }, false],
    ['NotPrincipal AWS "*" (excludes everyone)', { NotPrincipal: { AWS: '*' } }, false],
  ])('Principal: %s', (_name, principal, allowed) => {
    const rest = without(allow, 'Principal');
    expect(
      evaluateTrustPolicy(
        { Version: '2012-10-17', Statement: { ...rest, ...principal } },
        token('default/app'),
      ).allowed,
    ).toBe(allowed);
  });

  it('refuses a provider of another account and says why (cross-account)', () => {
    const decision = evaluateTrustPolicy(
      policy({ StringEquals: { [AUD]: 'sts.amazonaws.com', [SUB]: 'system:serviceaccount:default:app' } }),
      token('default/app', { account: '444455556666' }),
    );
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toBe(
      `Statement[0] does not allow it: its Principal.Federated is "${ARN}", not this token's provider arn:aws:iam::444455556666:oidc-provider/${HOST}`,
    );
    expect(decision.hints).toEqual([
      `Principal.Federated "${ARN}" is the provider in account 111122223333, but the role is in account 444455556666: a role trusts only a provider registered in its own account (cross-account: register the issuer as an OIDC provider in the role's account and name that ARN)`,
    ]);
  });

  it('matches the partition', () => {
    const cn = `arn:aws-cn:iam::${ACCOUNT}:oidc-provider/${HOST}`;
    const p = {
      ...policy({ StringEquals: { [AUD]: 'sts.amazonaws.com', [SUB]: 'system:serviceaccount:default:app' } }),
    };
    p.Statement[0]!.Principal = { Federated: cn };
    expect(evaluateTrustPolicy(p, token('default/app', { partition: 'aws-cn' })).allowed).toBe(true);
    const refused = evaluateTrustPolicy(p, token('default/app'));
    expect(refused.allowed).toBe(false);
    expect(refused.hints[0]).toContain('is in partition aws-cn, but the role is in partition aws');
  });
});

describe('hints for the known mistakes', () => {
  const good = { [AUD]: 'sts.amazonaws.com', [SUB]: 'system:serviceaccount:default:app' };

  it('the widely copied :aud holding system:serviceaccount:', () => {
    const decision = evaluateTrustPolicy(example('aud-holds-subject'), token('default/app'));
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toContain(
      `StringLike "${AUD}" expects a match for "system:serviceaccount:default:*", but the token's is "sts.amazonaws.com"`,
    );
    expect(decision.hints).toEqual([
      `Statement[0].Condition.StringLike["${AUD}"] holds the ServiceAccount "system:serviceaccount:default:*" under :aud: that is the token's subject and belongs under "${SUB}"; :aud is the token's audience (sts.amazonaws.com)`,
      `Statement[0] has no condition on "${SUB}": every ServiceAccount of the cluster can assume the role; add "StringEquals": {"${SUB}": "system:serviceaccount:<namespace>:<name>"}`,
    ]);
  });

  it('a missing :aud condition: allowed, with a warning', () => {
    const decision = evaluateTrustPolicy(
      policy({ StringEquals: { [SUB]: good[SUB] } }),
      token('default/app', { audiences: ['anything'] }),
    );
    expect(decision.allowed).toBe(true);
    expect(decision.hints).toEqual([
      `Statement[0] has no condition on "${AUD}": a token of this issuer for any audience passes; add "StringEquals": {"${AUD}": "sts.amazonaws.com"}`,
    ]);
  });

  it('no condition at all', () => {
    const decision = evaluateTrustPolicy(policy(undefined), token('kube-system/anything'));
    expect(decision).toMatchObject({ allowed: true, reason: expect.stringMatching(/, no condition$/) });
    expect(decision.hints).toHaveLength(2);
  });

  it('https:// in the condition key', () => {
    const decision = evaluateTrustPolicy(
      policy({ StringEquals: { [`https://${AUD}`]: 'sts.amazonaws.com', [`https://${SUB}`]: good[SUB] } }),
      token('default/app'),
    );
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toContain(`StringEquals "https://${AUD}": the token has no such key`);
    expect(decision.hints).toContain(
      `Statement[0].Condition.StringEquals["https://${SUB}"]: the condition key "https://${SUB}" includes https://, but IAM's keys are the issuer without it ("${SUB}")`,
    );
  });

  it.each([
    [
      'another issuer',
      `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.eks.region-code.amazonaws.com/id/OTHER`,
      "is the provider of another issuer (oidc.eks.region-code.amazonaws.com/id/OTHER) than the token's",
    ],
    [
      'https:// in the ARN',
      `arn:aws:iam::${ACCOUNT}:oidc-provider/https://${HOST}`,
      'includes https://: a provider ARN ends in the issuer without it',
    ],
    ['not an OIDC provider', `arn:aws:iam::${ACCOUNT}:saml-provider/corp`, 'is not an OIDC provider ARN'],
    [
      'another account',
      `arn:aws:iam::444455556666:oidc-provider/${HOST}`,
      'is the provider in account 444455556666, but the role is in account 111122223333',
    ],
  ])('a provider ARN for %s', (_name, arn, hint) => {
    const p = policy({ StringEquals: good });
    p.Statement[0]!.Principal = { Federated: arn };
    const decision = evaluateTrustPolicy(p, token('default/app'));
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toContain('its Principal.Federated is');
    expect(decision.hints).toHaveLength(1);
    expect(decision.hints[0]).toContain(hint);
  });

  it('condition keys of another issuer under this provider', () => {
    const other = 'oidc.eks.region-code.amazonaws.com/id/OTHER';
    const decision = evaluateTrustPolicy(
      policy({ StringEquals: { [`${other}:aud`]: 'sts.amazonaws.com', [`${other}:sub`]: good[SUB] } }),
      token('default/app'),
    );
    expect(decision.allowed).toBe(false);
    expect(decision.hints).toContain(
      `Statement[0].Condition.StringEquals["${other}:sub"]: the condition key "${other}:sub" is for issuer ${other}, not this token's ${HOST}, so the token never has it`,
    );
  });

  it.each([
    [
      'StringEquals on system:serviceaccount:<ns>:*',
      'StringEquals',
      'system:serviceaccount:default:*',
      ' and no ServiceAccount of the namespace matches; use StringLike',
    ],
    ['StringEquals with * elsewhere', 'StringEquals', 'system:serviceaccount:*:app', '; use StringLike'],
    [
      'StringNotEquals with *',
      'StringNotEquals',
      'system:serviceaccount:kube-system:*',
      ' and no ServiceAccount of the namespace matches; use StringNotLike',
    ],
    [
      'StringEqualsIgnoreCaseIfExists with *',
      'StringEqualsIgnoreCaseIfExists',
      'system:serviceaccount:*:app',
      '; use StringLikeIfExists',
    ],
  ])('%s', (_name, operator, value, tail) => {
    const decision = evaluateTrustPolicy(
      policy(
        operator === 'StringEquals'
          ? { StringEquals: { [AUD]: 'sts.amazonaws.com', [SUB]: value } }
          : { StringEquals: { [AUD]: 'sts.amazonaws.com' }, [operator]: { [SUB]: value } },
      ),
      token('default/app'),
    );
    if (!operator.includes('Not')) expect(decision.allowed).toBe(false);
    expect(decision.hints).toEqual([
      `Statement[0].Condition.${operator}["${SUB}"]: ${operator} compares ${JSON.stringify(value)} literally, so "*" is no wildcard there${tail}`,
    ]);
  });

  it.each([
    ['missing', undefined, 'Version is missing (IAM then reads the policy as "2008-10-17")'],
    ['2008-10-17', '2008-10-17', 'Version is "2008-10-17"'],
  ])('Version %s', (_name, version, hint) => {
    const rest = without(policy({ StringEquals: good }), 'Version');
    const decision = evaluateTrustPolicy(
      version ? { ...rest, Version: version } : rest,
      token('default/app'),
    );
    expect(decision.allowed).toBe(true);
    expect(decision.hints).toHaveLength(1);
    expect(decision.hints[0]).toContain(hint);
  });
});

describe('malformed policies, named precisely', () => {
  const base = policy({ StringEquals: { [AUD]: 'sts.amazonaws.com' } });
  const withStatement = (statement: object) => ({
    Version: '2012-10-17',
    Statement: [base.Statement[0], statement],
  });
  const s = base.Statement[0]!;
  it.each([
    ['not an object', [], 'the policy must be a JSON object, got array'],
    ['no Statement', { Version: '2012-10-17' }, 'the policy has no Statement'],
    ['an empty Statement', { Version: '2012-10-17', Statement: [] }, 'Statement must not be an empty array'],
    [
      'a bad Version',
      { ...base, Version: '2012-10-18' },
      'Version must be "2012-10-17" (or the older "2008-10-17"), got "2012-10-18"',
    ],
    [
      'an unknown top-level element',
      { ...base, Statements: [] },
      'the policy: unknown element "Statements" (expected Version, Id, Statement)',
    ],
    [
      'a statement that is a string',
      withStatement('x' as unknown as object),
      'Statement[1] must be an object, got string',
    ],
    [
      'a lowercase element',
      withStatement({ ...s, effect: 'Allow' }),
      'Statement[1]: unknown element "effect" (element names are case-sensitive: "Effect")',
    ],
    [
      'a bad Effect',
      withStatement({ ...s, Effect: 'allow' }),
      'Statement[1].Effect must be "Allow" or "Deny", got "allow"',
    ],
    [
      'no Principal',
      withStatement({ Effect: 'Allow', Action: 'sts:AssumeRoleWithWebIdentity' }),
      'Statement[1] has no Principal: a trust policy statement names who may assume the role',
    ],
    [
      'a string Principal',
      withStatement({ ...s, Principal: ARN }),
      `Statement[1].Principal must be "*" or an object such as {"Federated": "<OIDC provider ARN>"}, got "${ARN}"`,
    ],
    [
      'an unknown principal type',
      withStatement({ ...s, Principal: { Federate: ARN } }),
      'Statement[1].Principal: unknown element "Federate" (expected AWS, Federated, Service, CanonicalUser)',
    ],
    [
      'a Federated number',
      withStatement({ ...s, Principal: { Federated: [ARN, 5] } }),
      'Statement[1].Principal.Federated[1] must be a non-empty string, got number',
    ],
    [
      'no Action',
      withStatement({ Effect: 'Allow', Principal: '*' }),
      'Statement[1] has no Action (expected "sts:AssumeRoleWithWebIdentity")',
    ],
    [
      'Action and NotAction',
      withStatement({ ...s, NotAction: 'sts:AssumeRole' }),
      'Statement[1] has both Action and NotAction; give one',
    ],
    [
      'a bad Action',
      withStatement({ ...s, Action: 'AssumeRoleWithWebIdentity' }),
      'Statement[1].Action: "AssumeRoleWithWebIdentity" is not an action (service:Action, such as sts:AssumeRoleWithWebIdentity)',
    ],
    [
      'a Resource',
      withStatement({ ...s, Resource: '*' }),
      'Statement[1].Resource: a trust policy names no resource (the role is the resource)',
    ],
    [
      'a duplicate Sid',
      {
        Version: '2012-10-17',
        Statement: [
          { ...s, Sid: 'A' },
          { ...s, Sid: 'A' },
        ],
      },
      'Statement[1].Sid "A" is not unique',
    ],
    [
      'a Condition array',
      withStatement({ ...s, Condition: [] }),
      'Statement[1].Condition must be an object, got array',
    ],
    [
      'an unknown operator',
      withStatement({ ...s, Condition: { StringEqual: { [SUB]: 'x' } } }),
      'Statement[1].Condition.StringEqual: unknown condition operator "StringEqual"',
    ],
    [
      'a miscased operator',
      withStatement({ ...s, Condition: { stringequals: { [SUB]: 'x' } } }),
      'Statement[1].Condition.stringequals: unknown condition operator "stringequals" (operator names are case-sensitive: did you mean "StringEquals"?)',
    ],
    [
      'a bad set prefix',
      withStatement({ ...s, Condition: { 'ForAny:StringEquals': { [AUD]: 'x' } } }),
      'Statement[1].Condition["ForAny:StringEquals"]: unknown set prefix "ForAny" (ForAnyValue or ForAllValues)',
    ],
    [
      'an unsupported IAM operator',
      withStatement({ ...s, Condition: { NumericEquals: { [SUB]: '1' } } }),
      'Statement[1].Condition.NumericEquals: operator NumericEquals is valid IAM but not supported here',
    ],
    [
      'an operator block that is a string',
      withStatement({ ...s, Condition: { StringEquals: 'x' } }),
      'Statement[1].Condition.StringEquals must be an object of condition keys, got string',
    ],
    [
      'a condition value object',
      withStatement({ ...s, Condition: { StringEquals: { [SUB]: { a: 1 } } } }),
      `Statement[1].Condition.StringEquals["${SUB}"] must be a string or an array of strings, got object`,
    ],
    [
      'an empty condition value list',
      withStatement({ ...s, Condition: { StringLike: { [SUB]: [] } } }),
      `Statement[1].Condition.StringLike["${SUB}"] must not be an empty array`,
    ],
    [
      'a Null that is not a boolean',
      withStatement({ ...s, Condition: { Null: { [SUB]: 'yes' } } }),
      `Statement[1].Condition.Null["${SUB}"] must be "true" or "false" for Null`,
    ],
  ])('%s', (_name, bad, message) => {
    let thrown: unknown;
    try {
      evaluateTrustPolicy(bad, token('default/app'));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TrustPolicyError);
    expect((thrown as Error).message.startsWith(message)).toBe(true);
  });
});

describe('buildTrustPolicy', () => {
  const issuer = 'https://oidc.example.com/id/ABC';
  const host = 'oidc.example.com/id/ABC';
  const arn = `arn:aws:iam::${ACCOUNT}:oidc-provider/${host}`;

  it("prints AWS's documented StringEquals example for one ServiceAccount", () => {
    expect(
      buildTrustPolicy({
        issuer: ISSUER,
        account: ACCOUNT,
        serviceAccounts: [{ namespace: 'default', name: 'my-service-account' }],
      }),
    ).toEqual(example('eks-docs-string-equals'));
  });

  it('uses StringLike for :sub only where a wildcard is, and keeps :aud under StringEquals', () => {
    expect(
      buildTrustPolicy({ issuer, account: ACCOUNT, serviceAccounts: [{ namespace: '*', name: 'app' }] })
        .Statement,
    ).toEqual([
      {
        Effect: 'Allow',
        Principal: { Federated: arn },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: { [`${host}:aud`]: 'sts.amazonaws.com' },
          StringLike: { [`${host}:sub`]: 'system:serviceaccount:*:app' },
        },
      },
    ]);
  });

  it('puts several ServiceAccounts in one statement per :sub operator, deduplicated', () => {
    const policy = buildTrustPolicy({
      issuer,
      account: ACCOUNT,
      audiences: ['sts.amazonaws.com', 'vault'],
      serviceAccounts: [
        { namespace: 'a', name: 'x' },
        { namespace: 'b', name: 'y' },
        { namespace: 'a', name: 'x' },
        { namespace: 'c', name: 'job-?' },
      ],
    });
    expect(policy.Statement.map((s) => s.Condition)).toEqual([
      {
        StringEquals: {
          [`${host}:aud`]: ['sts.amazonaws.com', 'vault'],
          [`${host}:sub`]: ['system:serviceaccount:a:x', 'system:serviceaccount:b:y'],
        },
      },
      {
        StringEquals: { [`${host}:aud`]: ['sts.amazonaws.com', 'vault'] },
        StringLike: { [`${host}:sub`]: 'system:serviceaccount:c:job-?' },
      },
    ]);
  });

  it('uses StringLike for :aud when an audience has a wildcard', () => {
    const policy = buildTrustPolicy({
      issuer,
      account: ACCOUNT,
      audiences: ['sts.*'],
      serviceAccounts: [{ namespace: 'a', name: 'x' }],
    });
    expect(policy.Statement[0]!.Condition).toEqual({
      StringLike: { [`${host}:aud`]: 'sts.*' },
      StringEquals: { [`${host}:sub`]: 'system:serviceaccount:a:x' },
    });
  });

  it.each([
    [
      'partition',
      { issuer, account: ACCOUNT, partition: 'aws-us-gov' },
      `arn:aws-us-gov:iam::${ACCOUNT}:oidc-provider/${host}`,
    ],
    [
      'cross-account: the role account',
      { issuer, account: '444455556666' },
      `arn:aws:iam::444455556666:oidc-provider/${host}`,
    ],
    [
      'provider ARN given',
      { providerArn: `arn:aws-cn:iam::444455556666:oidc-provider/${host}` },
      `arn:aws-cn:iam::444455556666:oidc-provider/${host}`,
    ],
    ['trailing slash on the issuer', { issuer: `${issuer}/`, account: ACCOUNT }, arn],
  ])('provider ARN: %s', (_name, options, expected) => {
    const policy = buildTrustPolicy({ ...options, serviceAccounts: [{ namespace: 'a', name: 'x' }] });
    expect(policy.Statement[0]!.Principal.Federated).toBe(expected);
    expect(Object.keys(policy.Statement[0]!.Condition['StringEquals']!)).toEqual([
      `${host}:aud`,
      `${host}:sub`,
    ]);
  });

  it.each([
    ['an http issuer', { issuer: 'http://x', account: ACCOUNT }, 'issuer "http://x" must be an https:// URL'],
    ['a short account', { issuer, account: '1234' }, 'account "1234" is not a 12-digit AWS account ID'],
    [
      'a bad partition',
      { issuer, account: ACCOUNT, partition: 'azure' },
      'partition "azure" is not an AWS partition',
    ],
    ['no account', { issuer }, 'an account (or a provider ARN) is required'],
    [
      'a provider ARN for another issuer',
      { issuer: 'https://other.example.com', providerArn: arn },
      `provider ARN "${arn}" is for issuer ${host}, not other.example.com`,
    ],
    [
      'a provider ARN in another account',
      { account: '444455556666', providerArn: arn },
      `provider ARN "${arn}" is in account ${ACCOUNT}, not 444455556666`,
    ],
    [
      'a provider ARN with https://',
      { providerArn: `arn:aws:iam::${ACCOUNT}:oidc-provider/https://${host}` },
      'must name the issuer without https://',
    ],
    [
      'a SAML provider ARN',
      { providerArn: `arn:aws:iam::${ACCOUNT}:saml-provider/x` },
      'is not an OIDC provider ARN',
    ],
  ])('refuses %s', (_name, options, message) => {
    expect(() => buildTrustPolicy({ ...options, serviceAccounts: [{ namespace: 'a', name: 'x' }] })).toThrow(
      message,
    );
  });

  it.each([
    ['an uppercase namespace', { namespace: 'Prod', name: 'x' }, 'namespace "Prod" is not a namespace name'],
    ['a namespace with a colon', { namespace: 'a:b', name: 'x' }, 'namespace "a:b" is not a namespace name'],
    ['an empty name', { namespace: 'a', name: '' }, 'ServiceAccount name "" is not a ServiceAccount name'],
  ])('refuses %s', (_name, serviceAccount, message) => {
    expect(() => buildTrustPolicy({ issuer, account: ACCOUNT, serviceAccounts: [serviceAccount] })).toThrow(
      message,
    );
  });

  describe('round trip through the evaluator', () => {
    const built = buildTrustPolicy({
      issuer,
      account: ACCOUNT,
      serviceAccounts: [
        { namespace: 'default', name: 'app' },
        { namespace: 'jobs', name: '*' },
      ],
    });
    const request = (
      namespace: string,
      name: string,
      overrides: Partial<WebIdentityRequest> = {},
    ): WebIdentityRequest => ({
      issuer,
      subject: `system:serviceaccount:${namespace}:${name}`,
      audiences: ['sts.amazonaws.com'],
      account: ACCOUNT,
      ...overrides,
    });

    it.each([
      ['the exact ServiceAccount', request('default', 'app'), true],
      ['any ServiceAccount of the wildcard namespace', request('jobs', 'nightly'), true],
      ['another namespace', request('other', 'app'), false],
      ['another audience', request('default', 'app', { audiences: ['vault'] }), false],
      ['another issuer', request('default', 'app', { issuer: 'https://oidc.example.com/id/XYZ' }), false],
      ['another account', request('default', 'app', { account: '444455556666' }), false],
    ])('%s', (_name, req, allowed) => {
      const decision = evaluateTrustPolicy(built, req);
      expect(decision.allowed).toBe(allowed);
      if (allowed) expect(decision.hints).toEqual([]);
    });

    it('refuses another namespace with a reason naming the :sub condition of each statement', () => {
      expect(evaluateTrustPolicy(built, request('other', 'app')).reason).toBe(
        `no statement allows it: Statement[0]: StringEquals "${host}:sub" expects "system:serviceaccount:default:app", but the token's is "system:serviceaccount:other:app"; Statement[1]: StringLike "${host}:sub" expects a match for "system:serviceaccount:jobs:*", but the token's is "system:serviceaccount:other:app"`,
      );
    });
  });
});

describe('providerAccountOf', () => {
  it('takes the account of the provider for the issuer, else the first', () => {
    const p = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: {
            Federated: [
              'arn:aws:iam::999999999999:oidc-provider/a.example.com',
              `arn:aws-cn:iam::${ACCOUNT}:oidc-provider/${HOST}`,
            ],
          },
          Action: 'sts:AssumeRoleWithWebIdentity',
        },
      ],
    };
    expect(providerAccountOf(p, ISSUER)).toEqual({
      partition: 'aws-cn',
      account: ACCOUNT,
      issuerHostPath: HOST,
    });
    expect(providerAccountOf(p, 'https://b.example.com')).toEqual({
      partition: 'aws',
      account: '999999999999',
      issuerHostPath: 'a.example.com',
    });
    expect(providerAccountOf(policy(undefined, { Principal: '*' }), ISSUER)).toBeUndefined();
  });
});
