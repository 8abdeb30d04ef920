// The identity rules through their one entry point: raw annotations (full keys) and options in,
// the identity and every warning out.
import { describe, expect, it } from 'vitest';
import {
  relevantAnnotations,
  resolveIdentity,
  type Annotations,
  type Identity,
} from '../../src/identity/rules.js';
import {
  DEFAULT_MUTATION_OPTIONS,
  MAX_TOKEN_EXPIRATION,
  MIN_TOKEN_EXPIRATION,
  type MutationOptions,
} from '../../src/identity/options.js';
import {
  ANNOTATION,
  DEFAULT_ANNOTATION_PREFIX,
  DEFAULT_TOKEN_AUDIENCE,
  DEFAULT_TOKEN_EXPIRATION,
  DEFAULT_TOKEN_MOUNT_PATH,
  TOKEN_FILE,
  TOKEN_VOLUME_NAME,
} from '../../src/vocabulary.js';

const options = DEFAULT_MUTATION_OPTIONS;
const ARN = 'arn:aws:iam::111122223333:role/app';

type Named = Partial<Record<keyof typeof ANNOTATION, string>>;

/** Annotations by their vocabulary names, keyed `<prefix>/<name>` as on the objects. */
function annotations(named: Named, prefix = DEFAULT_ANNOTATION_PREFIX): Annotations {
  return Object.fromEntries(
    Object.entries(named).map(([name, value]) => [
      `${prefix}/${ANNOTATION[name as keyof typeof ANNOTATION]}`,
      value,
    ]),
  );
}

function resolve(serviceAccount: Named, pod: Named = {}, given: Partial<MutationOptions> = {}) {
  return resolveIdentity(
    { serviceAccount: annotations(serviceAccount), pod: annotations(pod) },
    { ...options, ...given },
  );
}

const typo = (
  key: string,
  prefix = DEFAULT_ANNOTATION_PREFIX,
  name: string = ANNOTATION.roleArn,
  owner = 'ServiceAccount',
) => `${owner} annotation "${key}" is ignored; did you mean "${prefix}/${name}"?`;

describe('resolveIdentity', () => {
  it.each([
    ['ServiceAccount without annotations', undefined],
    ['empty annotations', {}],
    ['empty role-arn', annotations({ roleArn: '' })],
    ['only other settings', annotations({ audience: 'x', tokenExpiration: '3600' })],
  ])('asks for no identity: %s', (_case, serviceAccount) => {
    expect(resolveIdentity({ serviceAccount, pod: undefined }, options)).toEqual({
      identity: undefined,
      warnings: [],
    });
  });

  it('takes the flags as defaults', () => {
    const { identity, warnings } = resolve({ roleArn: ARN }, {}, { awsDefaultRegion: 'eu-west-1' });
    expect(warnings).toEqual([]);
    expect(identity).toEqual<Identity>({
      roleArn: ARN,
      audience: DEFAULT_TOKEN_AUDIENCE,
      expirationSeconds: DEFAULT_TOKEN_EXPIRATION,
      tokenMountPath: DEFAULT_TOKEN_MOUNT_PATH,
      regionalSts: false,
      stsEndpoint: '',
      region: 'eu-west-1',
      skipContainers: new Set(),
      includeContainers: undefined,
      fsGroup: undefined,
      roleSessionNameFromPod: false,
      tokenVolumeName: TOKEN_VOLUME_NAME,
      tokenPath: TOKEN_FILE,
      containerCredentialsFullUri: '',
    });
  });

  it('accepts a Pod without annotations', () => {
    const { identity } = resolveIdentity(
      { serviceAccount: annotations({ roleArn: ARN }), pod: undefined },
      options,
    );
    expect(identity?.roleArn).toBe(ARN);
  });

  it.each([
    ['the audience annotation overrides the flag', { audience: 'custom' }, {}, { audience: 'custom' }],
    [
      'an empty audience annotation keeps the flag',
      { audience: '' },
      {},
      { audience: DEFAULT_TOKEN_AUDIENCE },
    ],
    [
      'sts-regional-endpoints "true" turns regional STS on',
      { stsRegionalEndpoints: 'true' },
      {},
      { regionalSts: true },
    ],
    [
      'sts-regional-endpoints "false" turns regional STS off',
      { stsRegionalEndpoints: 'false' },
      { stsRegionalEndpoint: true },
      { regionalSts: false },
    ],
    ['no sts-regional-endpoints keeps the flag', {}, { stsRegionalEndpoint: true }, { regionalSts: true }],
    ['no sts-endpoint anywhere injects none', {}, {}, { stsEndpoint: '' }],
    [
      'the --sts-endpoint flag applies',
      {},
      { stsEndpoint: 'http://sts.local:8080' },
      { stsEndpoint: 'http://sts.local:8080' },
    ],
    [
      'sts-endpoint wins over the flag',
      { stsEndpoint: 'https://sts.eu-west-1.amazonaws.com' },
      { stsEndpoint: 'http://sts.local:8080' },
      { stsEndpoint: 'https://sts.eu-west-1.amazonaws.com' },
    ],
  ])('%s', (_case, serviceAccount: Named, given: Partial<MutationOptions>, expected: Partial<Identity>) => {
    const { identity, warnings } = resolve({ roleArn: ARN, ...serviceAccount }, {}, given);
    expect(identity).toMatchObject(expected);
    expect(warnings).toEqual([]);
  });

  it.each([
    ['True', true],
    ['1', true],
    ['t', true],
    ['FALSE', false],
    ['0', false],
    ['f', false],
  ])('reads sts-regional-endpoints "%s" as Go’s strconv.ParseBool does', (value, regional) => {
    const { identity, warnings } = resolve(
      { roleArn: ARN, stsRegionalEndpoints: value },
      {},
      { stsRegionalEndpoint: !regional },
    );
    expect(identity?.regionalSts).toBe(regional);
    expect(warnings).toEqual([]);
  });

  it('warns about an sts-endpoint that is not an http(s) URL and keeps the flag', () => {
    const result = resolve({ roleArn: ARN, stsEndpoint: 'sts.local' }, {}, { stsEndpoint: 'http://a:1' });
    expect(result.identity?.stsEndpoint).toBe('http://a:1');
    expect(result.warnings).toEqual([
      'ServiceAccount annotation sts-endpoint "sts.local" is not an http or https URL; ignored',
    ]);
  });

  it('warns about an sts-regional-endpoints value that is not a boolean and keeps the flag', () => {
    const result = resolve({ roleArn: ARN, stsRegionalEndpoints: 'yes' }, {}, { stsRegionalEndpoint: true });
    expect(result.identity?.regionalSts).toBe(true);
    expect(result.warnings).toEqual([
      'ServiceAccount annotation sts-regional-endpoints "yes" is not true or false; ignored',
    ]);
  });

  it.each([
    ['the Pod wins over the ServiceAccount', { tokenExpiration: '7200' }, { tokenExpiration: '3600' }, 3600],
    ['the ServiceAccount wins over the flag', { tokenExpiration: '7200' }, {}, 7200],
    ['the flag applies without annotations', {}, {}, 5400],
    ['the Pod wins over the flag', {}, { tokenExpiration: '3600' }, 3600],
  ])('token expiration: %s', (_case, serviceAccount: Named, pod: Named, seconds) => {
    const { identity, warnings } = resolve({ roleArn: ARN, ...serviceAccount }, pod, {
      tokenExpiration: 5400,
    });
    expect(identity?.expirationSeconds).toBe(seconds);
    expect(warnings).toEqual([]);
  });

  it.each([
    [
      'a short ServiceAccount expiration is raised',
      { tokenExpiration: '100' },
      {},
      MIN_TOKEN_EXPIRATION,
      'ServiceAccount annotation token-expiration 100 is below the minimum; raised to 600',
    ],
    [
      'a short Pod expiration is raised',
      {},
      { tokenExpiration: '599' },
      MIN_TOKEN_EXPIRATION,
      'Pod annotation token-expiration 599 is below the minimum; raised to 600',
    ],
    [
      'a long ServiceAccount expiration is lowered',
      { tokenExpiration: '99999999999' },
      {},
      MAX_TOKEN_EXPIRATION,
      'ServiceAccount annotation token-expiration 99999999999 is above the maximum; lowered to 4294967296',
    ],
  ])('%s, with a warning', (_case, serviceAccount: Named, pod: Named, seconds, warning) => {
    const { identity, warnings } = resolve({ roleArn: ARN, ...serviceAccount }, pod);
    expect(identity?.expirationSeconds).toBe(seconds);
    expect(warnings).toEqual([warning]);
  });

  it.each([
    ['the lower limit', String(MIN_TOKEN_EXPIRATION), MIN_TOKEN_EXPIRATION],
    ['the upper limit', String(MAX_TOKEN_EXPIRATION), MAX_TOKEN_EXPIRATION],
  ])('keeps %s without a warning', (_case, value, seconds) => {
    const { identity, warnings } = resolve({ roleArn: ARN, tokenExpiration: value });
    expect(identity?.expirationSeconds).toBe(seconds);
    expect(warnings).toEqual([]);
  });

  it('falls back from a Pod expiration that is not a whole number to the ServiceAccount, with a warning', () => {
    const { identity, warnings } = resolve(
      { roleArn: ARN, tokenExpiration: '7200' },
      { tokenExpiration: '1h' },
    );
    expect(identity?.expirationSeconds).toBe(7200);
    expect(warnings).toEqual([
      'Pod annotation token-expiration "1h" is not a whole number of seconds; ignored',
    ]);
  });

  it.each(['', '-5', '1e4', '3600.5', ' 3600', '0x10'])(
    'falls back from a ServiceAccount expiration of %j to the flag, with a warning',
    (value) => {
      const { identity, warnings } = resolve({ roleArn: ARN, tokenExpiration: value });
      expect(identity?.expirationSeconds).toBe(DEFAULT_TOKEN_EXPIRATION);
      expect(warnings).toEqual([
        `ServiceAccount annotation token-expiration "${value}" is not a whole number of seconds; ignored`,
      ]);
    },
  );

  it('adds up skip-containers from the ServiceAccount and the Pod', () => {
    const { identity } = resolve({ roleArn: ARN, skipContainers: 'a, b' }, { skipContainers: 'c,,b' });
    expect([...(identity?.skipContainers ?? [])].sort()).toEqual(['a', 'b', 'c']);
  });

  it('reads only annotations under the configured prefix, on the ServiceAccount and on the Pod', () => {
    const prefix = 'iam.example.com';
    const { identity, warnings } = resolveIdentity(
      {
        serviceAccount: {
          ...annotations({ roleArn: ARN, tokenExpiration: '7200' }, prefix),
          ...annotations({ audience: 'ignored' }),
        },
        pod: { ...annotations({ skipContainers: 'a' }, prefix), ...annotations({ skipContainers: 'b' }) },
      },
      { ...options, annotationPrefix: prefix },
    );
    expect(identity).toMatchObject({
      roleArn: ARN,
      expirationSeconds: 7200,
      audience: DEFAULT_TOKEN_AUDIENCE,
      skipContainers: new Set(['a']),
    });
    expect(warnings).toEqual([
      typo(`${DEFAULT_ANNOTATION_PREFIX}/${ANNOTATION.audience}`, prefix, ANNOTATION.audience),
      typo(
        `${DEFAULT_ANNOTATION_PREFIX}/${ANNOTATION.skipContainers}`,
        prefix,
        ANNOTATION.skipContainers,
        'Pod',
      ),
    ]);
  });

  it.each([
    ['an underscore', `${DEFAULT_ANNOTATION_PREFIX}/skip_containers`, ANNOTATION.skipContainers],
    ['camelCase', `${DEFAULT_ANNOTATION_PREFIX}/tokenExpiration`, ANNOTATION.tokenExpiration],
    ['another prefix', `eks.amazon.com/${ANNOTATION.tokenExpiration}`, ANNOTATION.tokenExpiration],
  ])('warns about a Pod annotation with %s', (_name, key, meant) => {
    const { identity, warnings } = resolveIdentity(
      { serviceAccount: annotations({ roleArn: ARN }), pod: { [key]: 'x' } },
      options,
    );
    expect(identity).toBeDefined();
    expect(warnings).toEqual([typo(key, DEFAULT_ANNOTATION_PREFIX, meant, 'Pod')]);
  });

  it.each([
    ['not an ARN', 'my-role'],
    ['a short account number', 'arn:aws:iam::123:role/x'],
    ['a user', 'arn:aws:iam::111122223333:user/x'],
    ['another service', 'arn:aws:s3:::bucket'],
  ])('warns about a role ARN that is %s but still uses it', (_case, arn) => {
    const { identity, warnings } = resolve({ roleArn: arn });
    expect(identity?.roleArn).toBe(arn);
    expect(warnings).toEqual([
      `role ARN "${arn}" does not look like arn:<partition>:iam::<12-digit account>:role/<name>; injected as given`,
    ]);
  });

  it.each([
    ['aws', ARN],
    ['aws-cn with a path', 'arn:aws-cn:iam::111122223333:role/path/to/app'],
    ['aws-us-gov with every allowed character', 'arn:aws-us-gov:iam::111122223333:role/a+b=c,d.e@f-g'],
  ])('accepts the role ARN of %s without a warning', (_case, arn) => {
    expect(resolve({ roleArn: arn }).warnings).toEqual([]);
  });
});

describe('resolveIdentity, the opt-ins', () => {
  const OTHER = 'arn:aws:iam::111122223333:role/other';

  it.each([
    ['the fs-group annotation wins over the flag', { fsGroup: '3000' }, { fsGroup: 2000 }, { fsGroup: 3000 }],
    ['the --fs-group flag applies', {}, { fsGroup: 2000 }, { fsGroup: 2000 }],
    ['fs-group 0 is a group ID', { fsGroup: '0' }, {}, { fsGroup: 0 }],
    ['no fsGroup by default', {}, {}, { fsGroup: undefined }],
    [
      'role-session-name-from-pod "true" turns the session name on',
      { roleSessionNameFromPod: 'true' },
      {},
      { roleSessionNameFromPod: true },
    ],
    [
      'role-session-name-from-pod "false" turns it off',
      { roleSessionNameFromPod: 'false' },
      { roleSessionNameFromPod: true },
      { roleSessionNameFromPod: false },
    ],
    [
      'the --role-session-name-from-pod flag applies',
      {},
      { roleSessionNameFromPod: true },
      { roleSessionNameFromPod: true },
    ],
    [
      'the region annotation wins over the flag',
      { region: 'us-gov-west-1' },
      { awsDefaultRegion: 'eu-west-1' },
      { region: 'us-gov-west-1' },
    ],
    [
      'an empty region annotation keeps the flag',
      { region: '' },
      { awsDefaultRegion: 'eu-west-1' },
      { region: 'eu-west-1' },
    ],
    [
      'the region annotation applies without the flag',
      { region: 'eusc-de-east-1' },
      {},
      { region: 'eusc-de-east-1' },
    ],
    ['no include-containers: every container', {}, {}, { includeContainers: undefined }],
    [
      'an empty include-containers: every container',
      { includeContainers: ' , ' },
      {},
      { includeContainers: undefined },
    ],
  ])('%s', (_case, serviceAccount: Named, given: Partial<MutationOptions>, expected: Partial<Identity>) => {
    const { identity, warnings } = resolve({ roleArn: ARN, ...serviceAccount }, {}, given);
    expect(identity).toMatchObject(expected);
    expect(identity).toHaveProperty('fsGroup');
    expect(warnings).toEqual([]);
  });

  it.each([
    [
      'fs-group',
      { fsGroup: 'wheel' },
      { fsGroup: 2000 },
      { fsGroup: 2000 },
      'ServiceAccount annotation fs-group "wheel" is not a group ID from 0 to 2147483647; ignored',
    ],
    [
      'fs-group',
      { fsGroup: '2147483648' },
      {},
      { fsGroup: undefined },
      'ServiceAccount annotation fs-group "2147483648" is not a group ID from 0 to 2147483647; ignored',
    ],
    [
      'role-session-name-from-pod',
      { roleSessionNameFromPod: 'yes' },
      {},
      { roleSessionNameFromPod: false },
      'ServiceAccount annotation role-session-name-from-pod "yes" is not true or false; ignored',
    ],
    [
      'region',
      { region: 'Frankfurt' },
      { awsDefaultRegion: 'eu-west-1' },
      { region: 'eu-west-1' },
      'ServiceAccount annotation region "Frankfurt" does not look like an AWS region; ignored',
    ],
  ])(
    'warns about an invalid %s annotation and keeps the flag: %j',
    (_name, serviceAccount: Named, given: Partial<MutationOptions>, expected: Partial<Identity>, warning) => {
      const { identity, warnings } = resolve({ roleArn: ARN, ...serviceAccount }, {}, given);
      expect(identity).toMatchObject(expected);
      expect(warnings).toEqual([warning]);
    },
  );

  it('adds up include-containers from the ServiceAccount and the Pod', () => {
    const { identity } = resolve({ roleArn: ARN, includeContainers: 'a, b' }, { includeContainers: 'c' });
    expect([...(identity?.includeContainers ?? [])].sort()).toEqual(['a', 'b', 'c']);
  });

  it.each([
    ['takes the Pod’s include-containers alone', {}, { includeContainers: 'app' }, ['app']],
    ['takes the ServiceAccount’s include-containers alone', { includeContainers: 'app' }, {}, ['app']],
  ])('%s', (_case, serviceAccount: Named, pod: Named, expected) => {
    expect([
      ...(resolve({ roleArn: ARN, ...serviceAccount }, pod).identity?.includeContainers ?? []),
    ]).toEqual(expected);
  });

  it.each([
    ['no flag, no annotation: nothing', {}, {}],
    ['the flag without any region: nothing', {}, { regionWithoutRole: true }],
    ['a region without the flag: nothing', { region: 'eu-west-1' }, { awsDefaultRegion: 'eu-west-1' }],
  ])(
    'a ServiceAccount without a role: %s',
    (_case, serviceAccount: Named, given: Partial<MutationOptions>) => {
      expect(resolve(serviceAccount, {}, given)).toEqual({ identity: undefined, warnings: [] });
    },
  );

  it.each([
    ['from the flag', {}, 'eu-west-1'],
    ['from the annotation', { region: 'ap-south-1' }, 'ap-south-1'],
  ])(
    'a ServiceAccount without a role, with --region-without-role: only the region, %s',
    (_case, serviceAccount: Named, expected) => {
      const { identity, warnings } = resolve(
        {
          ...serviceAccount,
          skipContainers: 'b',
          fsGroup: '2000',
          roleSessionNameFromPod: 'true',
          stsRegionalEndpoints: 'true',
        },
        { includeContainers: 'a' },
        {
          regionWithoutRole: true,
          awsDefaultRegion: 'eu-west-1',
          fsGroup: 1000,
          stsEndpoint: 'http://sts:1',
        },
      );
      expect(identity).toMatchObject<Partial<Identity>>({
        roleArn: '',
        region: expected,
        regionalSts: false,
        stsEndpoint: '',
        fsGroup: undefined,
        roleSessionNameFromPod: false,
        skipContainers: new Set(['b']),
        includeContainers: new Set(['a']),
      });
      expect(warnings).toEqual([]);
    },
  );

  it.each([
    ['a listed role with the flag is used', { allowedRoleArns: `${ARN}, ${OTHER}` }, true, OTHER, []],
    [
      'a listed role without the flag is ignored',
      { allowedRoleArns: OTHER },
      false,
      ARN,
      [
        `Pod annotation role-arn "${OTHER}" is ignored (--allow-pod-role-arn is off); the ServiceAccount's role is used`,
      ],
    ],
    [
      'an unlisted role with the flag is ignored',
      { allowedRoleArns: ARN },
      true,
      ARN,
      [
        `Pod annotation role-arn "${OTHER}" is not in the ServiceAccount's allowed-role-arns; the ServiceAccount's role is used`,
      ],
    ],
    [
      'a role matching only by prefix is not listed',
      { allowedRoleArns: 'arn:aws:iam::111122223333:role/oth' },
      true,
      ARN,
      [
        `Pod annotation role-arn "${OTHER}" is not in the ServiceAccount's allowed-role-arns; the ServiceAccount's role is used`,
      ],
    ],
    [
      'no allowed-role-arns with the flag',
      {},
      true,
      ARN,
      [
        `Pod annotation role-arn "${OTHER}" is not in the ServiceAccount's allowed-role-arns; the ServiceAccount's role is used`,
      ],
    ],
  ])('Pod role-arn: %s', (_case, serviceAccount: Named, allowPodRoleArn, roleArn, warnings) => {
    const result = resolve({ roleArn: ARN, ...serviceAccount }, { roleArn: OTHER }, { allowPodRoleArn });
    expect(result.identity?.roleArn).toBe(roleArn);
    expect(result.warnings).toEqual(warnings);
  });

  it('Pod role-arn: the ServiceAccount’s own role asked again, without the flag, is used silently', () => {
    expect(resolve({ roleArn: ARN }, { roleArn: ARN })).toMatchObject({
      identity: { roleArn: ARN },
      warnings: [],
    });
  });

  it.each([
    ['is used when listed', { allowedRoleArns: OTHER }, OTHER, []],
    [
      'is refused when not listed: no role, no change',
      {},
      undefined,
      [
        `Pod annotation role-arn "${OTHER}" is not in the ServiceAccount's allowed-role-arns; no role is used`,
      ],
    ],
  ])(
    'Pod role-arn on a ServiceAccount without a role of its own %s',
    (_case, serviceAccount: Named, roleArn, warnings) => {
      const result = resolve(serviceAccount, { roleArn: OTHER }, { allowPodRoleArn: true });
      expect(result.identity?.roleArn).toBe(roleArn);
      expect(result.warnings).toEqual(warnings);
    },
  );

  it.each([
    [
      'raises to --min-token-expiration',
      { tokenExpiration: '1800' },
      { minTokenExpiration: 3600 },
      3600,
      'ServiceAccount annotation token-expiration 1800 is below the minimum; raised to 3600',
    ],
    [
      'lowers to --max-token-expiration',
      { tokenExpiration: '86400' },
      { maxTokenExpiration: 43200 },
      43200,
      'ServiceAccount annotation token-expiration 86400 is above the maximum; lowered to 43200',
    ],
  ])(
    'token expiration bounds: %s, with a warning',
    (_case, serviceAccount: Named, given: Partial<MutationOptions>, seconds, warning) => {
      const { identity, warnings } = resolve({ roleArn: ARN, ...serviceAccount }, {}, given);
      expect(identity?.expirationSeconds).toBe(seconds);
      expect(warnings).toEqual([warning]);
    },
  );

  it('does not take annotations named region under another prefix for a typo', () => {
    const { warnings } = resolveIdentity(
      {
        serviceAccount: annotations({ roleArn: ARN }),
        pod: { 'topology.kubernetes.io/region': 'x', Region: 'y' },
      },
      options,
    );
    expect(warnings).toEqual([typo('Region', DEFAULT_ANNOTATION_PREFIX, ANNOTATION.region, 'Pod')]);
  });
});

describe('resolveIdentity warns about likely typos of ServiceAccount annotations', () => {
  const roleArnKey = `${DEFAULT_ANNOTATION_PREFIX}/${ANNOTATION.roleArn}`;

  it.each([
    ['another prefix', 'eks.amazon.com/role-arn'],
    ['no separator', `${DEFAULT_ANNOTATION_PREFIX}/rolearn`],
    ['an underscore', `${DEFAULT_ANNOTATION_PREFIX}/role_arn`],
    ['camelCase', `${DEFAULT_ANNOTATION_PREFIX}/roleArn`],
    ['no prefix', ANNOTATION.roleArn],
  ])('%s, and asks for no identity', (_case, key) => {
    expect(resolveIdentity({ serviceAccount: { [key]: ARN }, pod: undefined }, options)).toEqual({
      identity: undefined,
      warnings: [typo(key)],
    });
  });

  it('names each typo, in order, next to a correct role-arn', () => {
    const { identity, warnings } = resolveIdentity(
      {
        serviceAccount: {
          [`${DEFAULT_ANNOTATION_PREFIX}/Token_Expiration`]: '3600',
          [roleArnKey]: ARN,
          'eks.amazon.com/audience': 'x',
        },
        pod: undefined,
      },
      options,
    );
    expect(identity?.roleArn).toBe(ARN);
    expect(identity?.expirationSeconds).toBe(DEFAULT_TOKEN_EXPIRATION);
    expect(warnings).toEqual([
      typo(
        `${DEFAULT_ANNOTATION_PREFIX}/Token_Expiration`,
        DEFAULT_ANNOTATION_PREFIX,
        ANNOTATION.tokenExpiration,
      ),
      typo('eks.amazon.com/audience', DEFAULT_ANNOTATION_PREFIX, ANNOTATION.audience),
    ]);
  });

  it('puts typo warnings before the warnings about values', () => {
    const { warnings } = resolveIdentity(
      { serviceAccount: { [roleArnKey]: 'my-role', 'eks.amazon.com/role-arn': ARN }, pod: undefined },
      options,
    );
    expect(warnings).toEqual([
      typo('eks.amazon.com/role-arn'),
      expect.stringMatching(/^role ARN "my-role" does not look like/),
    ]);
  });

  it('says nothing about known keys under the prefix nor about unrelated annotations', () => {
    const { warnings } = resolveIdentity(
      {
        serviceAccount: {
          ...annotations({
            roleArn: ARN,
            audience: 'x',
            stsRegionalEndpoints: 'true',
            tokenExpiration: '3600',
          }),
          [`${DEFAULT_ANNOTATION_PREFIX}/anything-else`]: 'x',
          'kubectl.kubernetes.io/last-applied-configuration': '{}',
        },
        pod: undefined,
      },
      options,
    );
    expect(warnings).toEqual([]);
  });
});

describe('relevantAnnotations', () => {
  it('keeps for the cache what is under the prefix and what may be a typo, nothing else', () => {
    const roleArnKey = `${DEFAULT_ANNOTATION_PREFIX}/${ANNOTATION.roleArn}`;
    expect(
      relevantAnnotations(DEFAULT_ANNOTATION_PREFIX, {
        [roleArnKey]: ARN,
        [`${DEFAULT_ANNOTATION_PREFIX}/anything`]: 'x',
        'eks.amazon.com/role-arn': ARN,
        'kubectl.kubernetes.io/last-applied-configuration': '{"big":"json"}',
      }),
    ).toEqual({
      [roleArnKey]: ARN,
      [`${DEFAULT_ANNOTATION_PREFIX}/anything`]: 'x',
      'eks.amazon.com/role-arn': ARN,
    });
  });

  it('keeps nothing from no annotations', () => {
    expect(relevantAnnotations(DEFAULT_ANNOTATION_PREFIX, undefined)).toEqual({});
  });
});
