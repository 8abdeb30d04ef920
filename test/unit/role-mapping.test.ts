// `--watch-config-map`: parsing the ConfigMap's `config` key, glob precedence, and how an entry
// sits between the ServiceAccount annotations and the flags.
import { describe, expect, it } from 'vitest';
import { admit } from '../../src/admission/admit.js';
import { builtinOnlyWarnings, configMapNamespace } from '../../src/cli/certificate-flags.js';
import { parseReview } from '../../src/admission/review.js';
import { DEFAULT_MUTATION_OPTIONS } from '../../src/identity/options.js';
import {
  parseRoleMapping,
  roleMappingFromConfigMap,
  RoleMappingError,
} from '../../src/identity/role-mapping.js';
import { resolveIdentity } from '../../src/identity/rules.js';
import { FileServiceAccountSource } from '../../src/serviceaccounts/file-source.js';

const ORIGIN = 'ConfigMap eks/pod-identity-webhook';
const ROLE = 'arn:aws:iam::111122223333:role/app';
const parse = (config: unknown) => parseRoleMapping(JSON.stringify(config), ORIGIN);

describe('parseRoleMapping', () => {
  it('reads the Go webhook’s fields, case-insensitively as Go’s encoding/json', () => {
    const mapping = parse({
      'team-a/app': { RoleARN: ROLE, Audience: 'aud', UseRegionalSTS: true, TokenExpiration: 3600 },
      'team-a/low': { rolearn: ROLE, useRegionalSts: false },
    });
    expect(mapping.size).toBe(2);
    expect(mapping.get('team-a', 'app')).toEqual({
      key: 'team-a/app',
      roleArn: ROLE,
      audience: 'aud',
      regionalSts: true,
      tokenExpiration: 3600,
    });
    expect(mapping.get('team-a', 'low')).toEqual({ key: 'team-a/low', roleArn: ROLE, regionalSts: false });
    expect(mapping.get('team-b', 'app')).toBeUndefined();
  });

  it('treats Go’s zero values as not given: Audience "" and TokenExpiration 0 fall back to the flags', () => {
    expect(parse({ 'a/b': { RoleARN: ROLE, Audience: '', TokenExpiration: 0 } }).get('a', 'b')).toEqual({
      key: 'a/b',
      roleArn: ROLE,
    });
  });

  it.each([
    ['not JSON', '{', /key config is not JSON/],
    ['an array', '[]', /key config must be a JSON object/],
    ['an entry that is not an object', '{"a/b": "arn"}', /key "a\/b" must map to an object/],
    ['no RoleARN', '{"a/b": {"Audience": "x"}}', /key "a\/b": field RoleARN is missing/],
    ['RoleARN not a string', '{"a/b": {"RoleARN": 1}}', /key "a\/b": field RoleARN must be a string, got 1/],
    [
      'Audience not a string',
      '{"a/b": {"RoleARN": "", "Audience": true}}',
      /field Audience must be a string/,
    ],
    [
      'UseRegionalSTS a string',
      '{"a/b": {"RoleARN": "", "UseRegionalSTS": "true"}}',
      /field UseRegionalSTS must be true or false, got "true"/,
    ],
    [
      'TokenExpiration a string',
      '{"a/b": {"RoleARN": "", "TokenExpiration": "3600"}}',
      /field TokenExpiration must be a whole number of seconds/,
    ],
    [
      'TokenExpiration negative',
      '{"a/b": {"RoleARN": "", "TokenExpiration": -1}}',
      /field TokenExpiration must be a whole number/,
    ],
    [
      'an unknown field',
      '{"a/b": {"RoleARN": "", "Role": "x"}}',
      /key "a\/b": unknown field "Role" \(known: RoleARN/,
    ],
    ['a field twice', '{"a/b": {"RoleARN": "", "roleArn": ""}}', /field RoleARN is given twice/],
    ['a key without /', '{"app": {"RoleARN": ""}}', /key "app" must be <namespace>\/<name>/],
    ['a key with two /', '{"a/b/c": {"RoleARN": ""}}', /key "a\/b\/c" must be <namespace>\/<name>/],
    ['an empty name', '{"a/": {"RoleARN": ""}}', /key "a\/": "" is not a namespace or name/],
    ['upper case', '{"Team/app": {"RoleARN": ""}}', /"Team" is not a namespace or name/],
  ])('refuses %s, naming the key and field', (_case, config, message) => {
    expect(() => parseRoleMapping(config, ORIGIN)).toThrow(RoleMappingError);
    expect(() => parseRoleMapping(config, ORIGIN)).toThrow(message);
    expect(() => parseRoleMapping(config, ORIGIN)).toThrow(new RegExp(`^${ORIGIN}: `));
  });
});

describe('glob keys: the most specific match wins', () => {
  const mapping = parse({
    'team-a/app': { RoleARN: 'exact' },
    'team-a/*': { RoleARN: 'team-a-any' },
    '*/builder': { RoleARN: 'any-builder' },
    'team-*/*': { RoleARN: 'team-glob' },
    'team-a*/*': { RoleARN: 'team-a-glob' },
    '*/*': { RoleARN: 'everyone' },
    'team-b/*-worker': { RoleARN: 'b-worker' },
    'team-b/*-*': { RoleARN: 'b-dashed' },
    'team-c/untrusted': { RoleARN: '' },
  });

  it.each([
    ['an exact key beats every glob', 'team-a', 'app', 'exact'],
    ['one wildcard beats two, an exact namespace beats a glob one', 'team-a', 'builder', 'team-a-any'],
    ['a glob namespace with an exact name', 'prod', 'builder', 'any-builder'],
    ['more literal characters win among equals', 'team-ab', 'x', 'team-a-glob'],
    ['a shorter glob still matches', 'team-c', 'x', 'team-glob'],
    ['fewer wildcards beat more in the name', 'team-b', 'queue-worker', 'b-worker'],
    ['two wildcards in the name', 'team-b', 'queue-reader', 'b-dashed'],
    ['the catch-all', 'default', 'app', 'everyone'],
    ['an empty RoleARN exempts one ServiceAccount from a glob', 'team-c', 'untrusted', ''],
  ])('%s (%s/%s → %s)', (_case, namespace, name, role) => {
    expect(mapping.get(namespace, name)?.roleArn).toBe(role);
  });

  it('does not let * match across the slash or treat . and - as patterns', () => {
    const narrow = parse({ 'a.b/*': { RoleARN: 'dots' } });
    expect(narrow.get('axb', 'app')).toBeUndefined();
    expect(narrow.get('a.b', 'app')?.roleArn).toBe('dots');
  });

  it.each([
    ['a*', 'a', true],
    ['a*', 'ba', false],
    ['*a', 'ba', true],
    ['*a*a*', 'aa', true],
    ['*a*a*', 'a', false],
    ['a*a', 'a', false],
    ['a*b*c', 'abbc', true],
    ['a*b*c', 'acbc', true],
    ['a*b*c', 'acb', false],
    ['**', '', true],
    ['*-*-prod', 'x--prod', true],
    ['*-*-prod', 'x-prod', false],
  ])('matches the glob %s against %s: %s', (pattern, value, matches) => {
    const mapping = parse({ [`${pattern}/app`]: { RoleARN: ROLE } });
    expect(mapping.get(value, 'app') !== undefined).toBe(matches);
  });

  // Found by fuzzing: globs were regular expressions (`^.*-.*-prod$`), which backtrack
  // polynomially on a long namespace or name without a match: 200,000 characters blocked the
  // event loop for a minute, a 3 MiB review for hours.
  it('matches a glob in time linear in the name', () => {
    const mapping = parse({ '*-*-prod/*': { RoleARN: ROLE }, 'a/*-*-*-x': { RoleARN: ROLE } });
    const long = 'a-'.repeat(1_000_000);
    const started = performance.now();
    expect(mapping.get(long, 'app')).toBeUndefined();
    expect(mapping.get('a', long)).toBeUndefined();
    expect(mapping.get(`${long}prod`, 'app')?.roleArn).toBe(ROLE);
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe('roleMappingFromConfigMap', () => {
  it.each([
    ['another kind', { kind: 'Secret', data: {} }, /must be a ConfigMap, got kind "Secret"/],
    ['no data.config', { kind: 'ConfigMap', data: { other: '{}' } }, /has no data\.config/],
    ['no data at all', { kind: 'ConfigMap' }, /has no data\.config/],
  ])('refuses %s', (_case, object, message) => {
    expect(() => roleMappingFromConfigMap(object, ORIGIN)).toThrow(message);
  });
});

describe('an entry between the annotations and the flags', () => {
  const options = { ...DEFAULT_MUTATION_OPTIONS, tokenAudience: 'flag-audience' };
  const mapped = {
    key: 'a/b',
    roleArn: ROLE,
    audience: 'map-audience',
    regionalSts: true,
    tokenExpiration: 3600,
  };

  it('gives its role and settings to a ServiceAccount without a role annotation', () => {
    const { identity, warnings } = resolveIdentity({ serviceAccount: {}, pod: {}, mapped }, options);
    expect(identity).toMatchObject({
      roleArn: ROLE,
      audience: 'map-audience',
      regionalSts: true,
      expirationSeconds: 3600,
    });
    expect(warnings).toEqual([]);
  });

  it('loses to the ServiceAccount’s other annotations setting by setting', () => {
    const { identity } = resolveIdentity(
      {
        serviceAccount: {
          'eks.amazonaws.com/audience': 'sa-audience',
          'eks.amazonaws.com/sts-regional-endpoints': 'false',
          'eks.amazonaws.com/token-expiration': '7200',
        },
        pod: {},
        mapped,
      },
      options,
    );
    expect(identity).toMatchObject({
      roleArn: ROLE,
      audience: 'sa-audience',
      regionalSts: false,
      expirationSeconds: 7200,
    });
  });

  it('is not used at all when the ServiceAccount has a role annotation', () => {
    const other = 'arn:aws:iam::111122223333:role/annotated';
    const { identity } = resolveIdentity(
      { serviceAccount: { 'eks.amazonaws.com/role-arn': other }, pod: {}, mapped },
      options,
    );
    expect(identity).toMatchObject({
      roleArn: other,
      audience: 'flag-audience',
      regionalSts: false,
      expirationSeconds: 86400,
    });
  });

  it('brings its TokenExpiration into the bounds, naming the key', () => {
    const { identity, warnings } = resolveIdentity(
      { serviceAccount: {}, pod: {}, mapped: { key: 'a/*', roleArn: ROLE, tokenExpiration: 60 } },
      options,
    );
    expect(identity?.expirationSeconds).toBe(600);
    expect(warnings).toEqual([
      'ConfigMap entry "a/*" TokenExpiration 60 is below the minimum; raised to 600',
    ]);
  });

  it('an empty RoleARN gives no role', () => {
    expect(
      resolveIdentity({ serviceAccount: {}, pod: {}, mapped: { key: 'a/b', roleArn: '' } }, options).identity,
    ).toBeUndefined();
  });
});

describe('admit with a role mapping', () => {
  const review = (serviceAccountName: string) =>
    parseReview({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'u1',
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        namespace: 'team-a',
        operation: 'CREATE',
        object: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'p', namespace: 'team-a' },
          spec: { serviceAccountName, containers: [{ name: 'c', image: 'busybox' }] },
        },
      },
    });
  const roleMapping = parse({ 'team-a/*': { RoleARN: ROLE } });
  const deps = { source: new FileServiceAccountSource([]), options: DEFAULT_MUTATION_OPTIONS, roleMapping };

  it('mutates a Pod whose ServiceAccount is not found but mapped, as the Go webhook does, and says so', async () => {
    const result = await admit(review('ghost'), deps);
    expect(result.outcome).toBe('mutated');
    expect(result.warnings).toEqual([
      'ServiceAccount team-a/ghost not found; ConfigMap entry "team-a/*" used',
    ]);
  });

  it('leaves a Pod whose ServiceAccount is neither found nor mapped', async () => {
    const result = await admit(review('ghost'), { ...deps, roleMapping: parse({}) });
    expect(result.outcome).toBe('unchanged');
    expect(result.warnings).toEqual(['ServiceAccount team-a/ghost not found; Pod not mutated']);
  });
});

describe('--watch-config-map and --namespace', () => {
  it('uses --namespace, else $POD_NAMESPACE, and is off without the flag', () => {
    const saved = process.env['POD_NAMESPACE'];
    try {
      process.env['POD_NAMESPACE'] = 'own';
      expect(configMapNamespace({ watchConfigMap: true, namespace: 'eks' })).toBe('eks');
      expect(configMapNamespace({ watchConfigMap: true })).toBe('own');
      expect(configMapNamespace({ watchConfigMap: false, namespace: 'eks' })).toBeUndefined();
    } finally {
      if (saved === undefined) delete process.env['POD_NAMESPACE'];
      else process.env['POD_NAMESPACE'] = saved;
    }
  });

  it('does not warn that --namespace is builtin-only when --watch-config-map uses it', () => {
    expect(builtinOnlyWarnings({ namespace: 'eks', watchConfigMap: true })).toEqual([]);
    expect(builtinOnlyWarnings({ namespace: 'eks', serviceName: 'x', watchConfigMap: true })).toEqual([
      '--service-name is used only with --certificates=builtin; ignored',
    ]);
    expect(builtinOnlyWarnings({ namespace: 'eks' })).toEqual([
      '--namespace is used only with --certificates=builtin; ignored',
    ]);
  });
});
