import { describe, expect, it } from 'vitest';
import {
  annotationsUnder,
  annotationTypos,
  relevantAnnotations,
  resolveIdentity,
} from '../../src/identity/rules.js';
import { DEFAULT_MUTATION_OPTIONS } from '../../src/options.js';

const options = DEFAULT_MUTATION_OPTIONS;
const ARN = 'arn:aws:iam::111122223333:role/app';

describe('resolveIdentity', () => {
  it('asks for no identity when role-arn is missing or empty', () => {
    expect(resolveIdentity({}, {}, options)).toEqual({ identity: undefined, warnings: [] });
    expect(resolveIdentity({ 'role-arn': '' }, {}, options)).toEqual({ identity: undefined, warnings: [] });
  });

  it('takes the flags as defaults', () => {
    const { identity, warnings } = resolveIdentity(
      { 'role-arn': ARN },
      {},
      { ...options, awsDefaultRegion: 'eu-west-1' },
    );
    expect(warnings).toEqual([]);
    expect(identity).toEqual({
      roleArn: ARN,
      audience: 'sts.amazonaws.com',
      expirationSeconds: 86400,
      tokenMountPath: options.tokenMountPath,
      regionalSts: false,
      region: 'eu-west-1',
      skipContainers: new Set(),
    });
  });

  it('lets ServiceAccount annotations override audience and regional STS both ways', () => {
    const on = resolveIdentity(
      { 'role-arn': ARN, audience: 'custom', 'sts-regional-endpoints': 'true' },
      {},
      options,
    );
    expect(on.identity).toMatchObject({ audience: 'custom', regionalSts: true });
    const off = resolveIdentity(
      { 'role-arn': ARN, 'sts-regional-endpoints': 'false' },
      {},
      { ...options, stsRegionalEndpoint: true },
    );
    expect(off.identity?.regionalSts).toBe(false);
  });

  it('warns about an sts-regional-endpoints value that is not a boolean and keeps the flag', () => {
    const result = resolveIdentity(
      { 'role-arn': ARN, 'sts-regional-endpoints': 'yes' },
      {},
      { ...options, stsRegionalEndpoint: true },
    );
    expect(result.identity?.regionalSts).toBe(true);
    expect(result.warnings).toEqual([
      expect.stringContaining('sts-regional-endpoints "yes" is not true or false'),
    ]);
  });

  it('takes token expiration from the Pod, then the ServiceAccount, then the flag', () => {
    const sa = { 'role-arn': ARN, 'token-expiration': '7200' };
    expect(resolveIdentity(sa, { 'token-expiration': '3600' }, options).identity?.expirationSeconds).toBe(
      3600,
    );
    expect(resolveIdentity(sa, {}, options).identity?.expirationSeconds).toBe(7200);
  });

  it('raises a short expiration to 600 and ignores one that is not a whole number, with warnings', () => {
    const raised = resolveIdentity({ 'role-arn': ARN, 'token-expiration': '100' }, {}, options);
    expect(raised.identity?.expirationSeconds).toBe(600);
    expect(raised.warnings).toEqual([
      expect.stringContaining('token-expiration 100 is below the minimum; raised to 600'),
    ]);
    const ignored = resolveIdentity(
      { 'role-arn': ARN, 'token-expiration': '7200' },
      { 'token-expiration': '1h' },
      options,
    );
    expect(ignored.identity?.expirationSeconds).toBe(7200);
    expect(ignored.warnings).toEqual([
      expect.stringContaining('Pod annotation token-expiration "1h" is not a whole number'),
    ]);
    for (const bad of ['', '-5', '1e4', '3600.5', ' 3600']) {
      expect(
        resolveIdentity({ 'role-arn': ARN, 'token-expiration': bad }, {}, options).identity
          ?.expirationSeconds,
      ).toBe(86400);
    }
  });

  it('lowers an expiration above what Kubernetes accepts', () => {
    const result = resolveIdentity({ 'role-arn': ARN, 'token-expiration': '99999999999' }, {}, options);
    expect(result.identity?.expirationSeconds).toBe(2 ** 32);
    expect(result.warnings).toHaveLength(1);
  });

  it('merges skip-containers from the ServiceAccount and the Pod', () => {
    const result = resolveIdentity(
      { 'role-arn': ARN, 'skip-containers': 'a, b' },
      { 'skip-containers': 'c,,b' },
      options,
    );
    expect([...(result.identity?.skipContainers ?? [])].sort()).toEqual(['a', 'b', 'c']);
  });

  it('warns about a role ARN that does not look like an IAM role but still uses it', () => {
    for (const arn of [
      'my-role',
      'arn:aws:iam::123:role/x',
      'arn:aws:iam::111122223333:user/x',
      'arn:aws:s3:::bucket',
    ]) {
      const result = resolveIdentity({ 'role-arn': arn }, {}, options);
      expect(result.identity?.roleArn).toBe(arn);
      expect(result.warnings).toEqual([expect.stringContaining(`role ARN "${arn}" does not look like`)]);
    }
    for (const arn of [
      ARN,
      'arn:aws-cn:iam::111122223333:role/path/to/app',
      'arn:aws-us-gov:iam::111122223333:role/a+b=c,d.e@f-g',
    ]) {
      expect(resolveIdentity({ 'role-arn': arn }, {}, options).warnings).toEqual([]);
    }
  });
});

describe('annotation helpers', () => {
  it('keeps only the annotations under the prefix, without it', () => {
    expect(
      annotationsUnder('eks.amazonaws.com', { 'eks.amazonaws.com/role-arn': ARN, 'other/x': 'y' }),
    ).toEqual({
      'role-arn': ARN,
    });
  });

  it('names likely typos of known keys', () => {
    const warnings = annotationTypos('eks.amazonaws.com', {
      'eks.amazon.com/role-arn': ARN,
      'eks.amazonaws.com/rolearn': ARN,
      'eks.amazonaws.com/role_arn': ARN,
      'eks.amazonaws.com/roleArn': ARN,
      'role-arn': ARN,
      'eks.amazonaws.com/role-arn': ARN,
      'eks.amazonaws.com/audience': 'x',
      'kubectl.kubernetes.io/last-applied-configuration': '{}',
    });
    expect(warnings).toEqual([
      'ServiceAccount annotation "eks.amazon.com/role-arn" is ignored; did you mean "eks.amazonaws.com/role-arn"?',
      'ServiceAccount annotation "eks.amazonaws.com/rolearn" is ignored; did you mean "eks.amazonaws.com/role-arn"?',
      'ServiceAccount annotation "eks.amazonaws.com/role_arn" is ignored; did you mean "eks.amazonaws.com/role-arn"?',
      'ServiceAccount annotation "eks.amazonaws.com/roleArn" is ignored; did you mean "eks.amazonaws.com/role-arn"?',
      'ServiceAccount annotation "role-arn" is ignored; did you mean "eks.amazonaws.com/role-arn"?',
    ]);
  });

  it('keeps for the cache what is under the prefix and what may be a typo, nothing else', () => {
    expect(
      relevantAnnotations('eks.amazonaws.com', {
        'eks.amazonaws.com/role-arn': ARN,
        'eks.amazonaws.com/anything': 'x',
        'eks.amazon.com/role-arn': ARN,
        'kubectl.kubernetes.io/last-applied-configuration': '{"big":"json"}',
      }),
    ).toEqual({
      'eks.amazonaws.com/role-arn': ARN,
      'eks.amazonaws.com/anything': 'x',
      'eks.amazon.com/role-arn': ARN,
    });
  });
});
