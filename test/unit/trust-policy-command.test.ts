// The trust-policy commands without the CLI around them: flag pairing, printing, checking a file.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  checkTrustPolicy,
  InputError,
  pairServiceAccounts,
  trustPolicyText,
} from '../../src/commands/trust-policy.js';

const ISSUER = 'https://oidc.example.com/id/ABC';
const HOST = 'oidc.example.com/id/ABC';

describe('pairServiceAccounts', () => {
  it.each([
    [
      'one namespace for every name',
      ['a'],
      ['x', 'y'],
      [
        { namespace: 'a', name: 'x' },
        { namespace: 'a', name: 'y' },
      ],
    ],
    [
      'paired in order',
      ['a', 'b'],
      ['x', 'y'],
      [
        { namespace: 'a', name: 'x' },
        { namespace: 'b', name: 'y' },
      ],
    ],
    [
      'NS/NAME',
      [],
      ['a/x', '*/y'],
      [
        { namespace: 'a', name: 'x' },
        { namespace: '*', name: 'y' },
      ],
    ],
    [
      'NS/NAME among paired names',
      ['a'],
      ['x', 'b/y'],
      [
        { namespace: 'a', name: 'x' },
        { namespace: 'b', name: 'y' },
      ],
    ],
  ])('%s', (_name, namespaces, names, expected) => {
    expect(pairServiceAccounts(namespaces, names)).toEqual(expected);
  });

  it.each([
    ['no name', ['a'], [], '--service-account is required (NAME, or NS/NAME)'],
    ['no namespace', [], ['x'], '--namespace is required for --service-account x (or give it as NS/NAME)'],
    ['counts differ', ['a', 'b'], ['x', 'y', 'z'], '2 --namespace values for 3 --service-account values'],
    [
      'a namespace nobody uses',
      ['a'],
      ['b/x'],
      '--namespace is given but every --service-account is NS/NAME',
    ],
    ['two slashes', [], ['a/b/c'], '--service-account a/b/c: expected NAME or NS/NAME'],
  ])('refuses %s', (_name, namespaces, names, message) => {
    expect(() => pairServiceAccounts(namespaces, names)).toThrow(message);
  });
});

describe('trustPolicyText', () => {
  it('prints the policy as indented JSON with a final newline', () => {
    const text = trustPolicyText({
      account: '111122223333',
      issuer: ISSUER,
      namespaces: ['default'],
      serviceAccounts: ['app'],
      audiences: [],
    });
    expect(text.endsWith('}\n')).toBe(true);
    expect(JSON.parse(text).Statement[0].Condition.StringEquals[`${HOST}:sub`]).toBe(
      'system:serviceaccount:default:app',
    );
  });

  it.each([
    ['no issuer', { account: '111122223333' }, '--issuer is required (or --provider-arn)'],
    ['no account', { issuer: ISSUER }, '--account is required (or --provider-arn)'],
    ['a bad account', { issuer: ISSUER, account: 'x' }, 'account "x" is not a 12-digit AWS account ID'],
  ])('refuses %s as bad input', (_name, flags, message) => {
    expect(() =>
      trustPolicyText({ ...flags, namespaces: ['a'], serviceAccounts: ['x'], audiences: [] }),
    ).toThrow(InputError);
    expect(() =>
      trustPolicyText({ ...flags, namespaces: ['a'], serviceAccounts: ['x'], audiences: [] }),
    ).toThrow(message);
  });
});

describe('checkTrustPolicy', () => {
  let dir: string;
  let policyFile: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'piw-trust-'));
    policyFile = join(dir, 'policy.json');
    await writeFile(
      policyFile,
      trustPolicyText({
        account: '111122223333',
        issuer: ISSUER,
        namespaces: ['default'],
        serviceAccounts: ['app'],
        audiences: [],
      }),
    );
    await writeFile(join(dir, 'bad.json'), '{"Statement": ');
    await writeFile(
      join(dir, 'malformed.json'),
      '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}',
    );
    await writeFile(
      join(dir, 'no-provider.json'),
      '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": "*", "Action": "sts:*"}}',
    );
  });
  const flags = (overrides: object = {}) => ({
    policy: policyFile,
    issuer: ISSUER,
    namespace: 'default',
    serviceAccount: 'app',
    audiences: [],
    ...overrides,
  });

  it('accepts the ServiceAccount, taking the account from the policy', async () => {
    const result = await checkTrustPolicy(flags());
    expect(result.code).toBe(0);
    expect(result.text).toMatch(
      /^allowed: Statement\[0\] allows it: principal arn:aws:iam::111122223333:oidc-provider\//,
    );
  });

  it('refuses another namespace, naming the :sub condition', async () => {
    const result = await checkTrustPolicy(flags({ namespace: 'other' }));
    expect(result.code).toBe(1);
    expect(result.text).toBe(
      `refused: Statement[0] does not allow it: StringEquals "${HOST}:sub" expects "system:serviceaccount:default:app", but the token's is "system:serviceaccount:other:app"\n`,
    );
  });

  it('refuses a role in another account, with the cross-account hint', async () => {
    const result = await checkTrustPolicy(flags({ account: '444455556666' }));
    expect(result.code).toBe(1);
    expect(result.text).toMatch(
      /\nhint: Principal\.Federated .* is the provider in account 111122223333, but the role is in account 444455556666/,
    );
  });

  it('takes account and partition from --provider-arn', async () => {
    const result = await checkTrustPolicy(
      flags({ providerArn: `arn:aws-cn:iam::111122223333:oidc-provider/${HOST}` }),
    );
    expect(result.code).toBe(1);
    expect(result.text).toContain(
      `not this token's provider arn:aws-cn:iam::111122223333:oidc-provider/${HOST}`,
    );
  });

  it.each([
    ['an http issuer', { issuer: 'http://x' }, '--issuer http://x must be an https:// URL'],
    ['a wildcard namespace', { namespace: '*' }, '--namespace * is not a namespace name'],
    ['a bad account', { account: '12' }, '--account 12 is not a 12-digit AWS account ID'],
    [
      'a missing file',
      { policy: '/nonexistent/policy.json' },
      '/nonexistent/policy.json cannot be read: ENOENT',
    ],
    ['invalid JSON', { policy: 'bad.json' }, 'bad.json: invalid JSON: '],
    ['a malformed policy', { policy: 'malformed.json' }, 'malformed.json: Statement[0] has no Principal'],
    ['no account anywhere', { policy: 'no-provider.json' }, '--account is required: '],
  ])('refuses %s as bad input', async (_name, overrides, message) => {
    const o = overrides as { policy?: string };
    const resolved =
      o.policy && !o.policy.startsWith('/') ? { ...overrides, policy: join(dir, o.policy) } : overrides;
    const error = await checkTrustPolicy(flags(resolved)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toContain(message);
  });
});
