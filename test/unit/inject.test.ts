import type { V1Container, V1Pod, V1PodSecurityContext, V1PodSpec } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Identity } from '../../src/identity/rules.js';
import { injectIdentity, isWindows } from '../../src/mutation/inject.js';
import { applyPatch, diffPods } from '../../src/mutation/patch.js';
import {
  DEFAULT_TOKEN_AUDIENCE,
  DEFAULT_TOKEN_EXPIRATION,
  DEFAULT_TOKEN_MOUNT_PATH,
  ENV,
  STS_REGIONAL,
  TOKEN_FILE,
  TOKEN_VOLUME_NAME,
} from '../../src/vocabulary.js';

const MOUNT = DEFAULT_TOKEN_MOUNT_PATH;
const identity: Identity = {
  roleArn: 'arn:aws:iam::111122223333:role/app',
  audience: DEFAULT_TOKEN_AUDIENCE,
  expirationSeconds: DEFAULT_TOKEN_EXPIRATION,
  tokenMountPath: MOUNT,
  regionalSts: false,
  stsEndpoint: '',
  region: '',
  skipContainers: new Set(),
  includeContainers: undefined,
  fsGroup: undefined,
  roleSessionNameFromPod: false,
  tokenVolumeName: TOKEN_VOLUME_NAME,
  tokenPath: TOKEN_FILE,
  containerCredentialsFullUri: '',
};
/** Every variable the webhook may inject. */
const IDENTITY_VARS: string[] = Object.values(ENV);
const pod = (...containers: V1Container[]): V1Pod => ({ metadata: { name: 'p' }, spec: { containers } });

describe('injectIdentity', () => {
  it('leaves the original Pod untouched', () => {
    const original = pod({ name: 'a' });
    const copy = structuredClone(original);
    injectIdentity(original, identity);
    expect(original).toEqual(copy);
  });

  it('adds region and regional STS variables before the identity, only where missing', () => {
    const result = injectIdentity(
      pod(
        { name: 'a' },
        {
          name: 'b',
          env: [
            { name: ENV.region, value: 'us-east-1' },
            { name: ENV.stsRegionalEndpoints, value: 'legacy' },
          ],
        },
      ),
      { ...identity, region: 'eu-west-1', regionalSts: true },
    );
    expect(result.pod.spec?.containers[0]?.env).toEqual([
      { name: ENV.stsRegionalEndpoints, value: STS_REGIONAL },
      { name: ENV.defaultRegion, value: 'eu-west-1' },
      { name: ENV.region, value: 'eu-west-1' },
      { name: ENV.roleArn, value: identity.roleArn },
      { name: ENV.webIdentityTokenFile, value: `${MOUNT}/${TOKEN_FILE}` },
    ]);
    expect(result.pod.spec?.containers[1]?.env).toEqual([
      { name: ENV.region, value: 'us-east-1' },
      { name: ENV.stsRegionalEndpoints, value: 'legacy' },
      { name: ENV.roleArn, value: identity.roleArn },
      { name: ENV.webIdentityTokenFile, value: `${MOUNT}/${TOKEN_FILE}` },
    ]);
  });

  it.each([
    ['the role ARN', ENV.roleArn],
    ['the token file', ENV.webIdentityTokenFile],
  ])('adds neither identity variable to a container that sets only %s, and warns', (_case, present) => {
    const result = injectIdentity(pod({ name: 'a', env: [{ name: present, value: 'mine' }] }), identity);
    expect(result.pod.spec?.containers[0]?.env).toEqual([{ name: present, value: 'mine' }]);
    expect(result.warnings).toEqual([
      `container "a" already sets ${present} alone; ${ENV.roleArn} and ${ENV.webIdentityTokenFile} not injected`,
    ]);
  });

  it('keeps both identity variables of a container that sets both, without a warning', () => {
    const env = [
      { name: ENV.roleArn, value: 'mine' },
      { name: ENV.webIdentityTokenFile, value: '/mine/token' },
    ];
    const result = injectIdentity(pod({ name: 'a', env }), identity);
    expect(result.pod.spec?.containers[0]?.env).toEqual(env);
    expect(result.warnings).toEqual([]);
  });

  it('adds the token volume once, with the identity audience and expiration, when a container mounts it', () => {
    const result = injectIdentity(pod({ name: 'a' }, { name: 'b' }), {
      ...identity,
      audience: 'custom',
      expirationSeconds: 3600,
    });
    expect(result.pod.spec?.containers.map((c) => c.volumeMounts)).toEqual([
      [{ name: TOKEN_VOLUME_NAME, readOnly: true, mountPath: MOUNT }],
      [{ name: TOKEN_VOLUME_NAME, readOnly: true, mountPath: MOUNT }],
    ]);
    expect(result.pod.spec?.volumes).toEqual([
      {
        name: TOKEN_VOLUME_NAME,
        projected: {
          sources: [
            { serviceAccountToken: { audience: 'custom', expirationSeconds: 3600, path: TOKEN_FILE } },
          ],
        },
      },
    ]);
  });

  it('does not add a mount where one exists by name or path, nor a volume nobody mounts', () => {
    const result = injectIdentity(
      pod({ name: 'a', volumeMounts: [{ name: 'mine', mountPath: MOUNT }] }),
      identity,
    );
    expect(result.pod.spec?.containers[0]?.volumeMounts).toEqual([{ name: 'mine', mountPath: MOUNT }]);
    expect(result.pod.spec?.volumes).toBeUndefined();
  });

  it('skips listed containers entirely and never touches ephemeral containers', () => {
    const original: V1Pod = {
      spec: { containers: [{ name: 'a' }, { name: 'skip-me' }], ephemeralContainers: [{ name: 'debug' }] },
    };
    const result = injectIdentity(original, { ...identity, skipContainers: new Set(['skip-me']) });
    expect(result.pod.spec?.containers[1]).toEqual({ name: 'skip-me' });
    expect(result.pod.spec?.ephemeralContainers).toEqual([{ name: 'debug' }]);
    expect(result.pod.spec?.containers[0]?.env).toHaveLength(2);
  });

  it('uses a C: token path on Windows Pods but keeps the mount path', () => {
    const windows: V1Pod = {
      spec: { nodeSelector: { 'kubernetes.io/os': 'windows' }, containers: [{ name: 'a' }] },
    };
    const result = injectIdentity(windows, identity);
    expect(result.pod.spec?.containers[0]?.env?.[1]).toEqual({
      name: ENV.webIdentityTokenFile,
      value: 'C:\\var\\run\\secrets\\eks.amazonaws.com\\serviceaccount\\token',
    });
    expect(result.pod.spec?.containers[0]?.volumeMounts?.[0]?.mountPath).toBe(MOUNT);
  });
});

describe('injectIdentity, the opt-ins', () => {
  const spec = (securityContext?: V1PodSecurityContext): V1PodSpec => ({
    containers: [{ name: 'a' }],
    ...(securityContext === undefined ? {} : { securityContext }),
  });

  it.each([
    ['sets fsGroup on a Pod without a securityContext', spec(), 2000, { fsGroup: 2000 }],
    [
      'adds fsGroup next to other settings',
      spec({ runAsNonRoot: true }),
      2000,
      { runAsNonRoot: true, fsGroup: 2000 },
    ],
    ['keeps the Pod’s own fsGroup', spec({ fsGroup: 3000 }), 2000, { fsGroup: 3000 }],
    ['keeps the Pod’s own fsGroup 0', spec({ fsGroup: 0 }), 2000, { fsGroup: 0 }],
    ['sets nothing without --fs-group', spec(), undefined, undefined],
  ])('fsGroup: %s', (_case, podSpec, fsGroup, expected) => {
    const result = injectIdentity({ spec: podSpec }, { ...identity, fsGroup });
    expect(result.pod.spec?.securityContext).toEqual(expected);
    expect(result.warnings).toEqual([]);
  });

  it.each([
    ['a Pod without a role (region only)', { roleArn: '', region: 'eu-west-1' }],
    ['a Pod whose every container is skipped', { skipContainers: new Set(['a']) }],
  ])('fsGroup: sets none on %s', (_case, given: Partial<Identity>) => {
    const result = injectIdentity({ spec: spec() }, { ...identity, fsGroup: 2000, ...given });
    expect(result.pod.spec?.securityContext).toBeUndefined();
  });

  const sessionName = {
    name: ENV.roleSessionName,
    valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } },
  };

  it.each([
    ['a named Pod', { name: 'web-0' }],
    ['a Pod from generateName (no name yet)', { generateName: 'web-' }],
    ['a Pod of 64 characters', { name: 'x'.repeat(64) }],
  ])('AWS_ROLE_SESSION_NAME: added last, from the downward API, for %s', (_case, metadata) => {
    const result = injectIdentity(
      { metadata, spec: { containers: [{ name: 'a' }] } },
      { ...identity, roleSessionNameFromPod: true, regionalSts: true },
    );
    expect(result.pod.spec?.containers[0]?.env?.map((e) => e.name)).toEqual([
      ENV.stsRegionalEndpoints,
      ENV.roleArn,
      ENV.webIdentityTokenFile,
      ENV.roleSessionName,
    ]);
    expect(result.pod.spec?.containers[0]?.env?.[3]).toEqual(sessionName);
    expect(result.warnings).toEqual([]);
  });

  it('AWS_ROLE_SESSION_NAME: keeps a container’s own', () => {
    const own = { name: ENV.roleSessionName, value: 'mine' };
    const result = injectIdentity(pod({ name: 'a', env: [own] }), {
      ...identity,
      roleSessionNameFromPod: true,
    });
    expect(result.pod.spec?.containers[0]?.env?.filter((e) => e.name === ENV.roleSessionName)).toEqual([own]);
  });

  it.each([
    ['65', 'x'.repeat(65)],
    ['1', 'x'],
  ])(
    'AWS_ROLE_SESSION_NAME: none for a Pod name of %s characters, which STS refuses, and a warning',
    (length, name) => {
      const result = injectIdentity(
        { metadata: { name }, spec: { containers: [{ name: 'a' }] } },
        { ...identity, roleSessionNameFromPod: true },
      );
      expect(result.pod.spec?.containers[0]?.env?.map((e) => e.name)).toEqual([
        ENV.roleArn,
        ENV.webIdentityTokenFile,
      ]);
      expect(result.warnings).toEqual([
        `the Pod's name has ${length} characters, STS takes 2 to 64 as a role session name; ${ENV.roleSessionName} not injected`,
      ]);
    },
  );

  it('region only (no role): the region variables, no mount, no volume, nothing else', () => {
    const result = injectIdentity(
      pod({ name: 'a' }, { name: 'b', env: [{ name: ENV.region, value: 'x' }] }),
      {
        ...identity,
        roleArn: '',
        region: 'eu-west-1',
        regionalSts: true,
        roleSessionNameFromPod: true,
      },
    );
    expect(result.pod.spec?.containers[0]).toEqual({
      name: 'a',
      env: [
        { name: ENV.defaultRegion, value: 'eu-west-1' },
        { name: ENV.region, value: 'eu-west-1' },
      ],
    });
    expect(result.pod.spec?.containers[1]).toEqual({ name: 'b', env: [{ name: ENV.region, value: 'x' }] });
    expect(result.pod.spec?.volumes).toBeUndefined();
  });

  it.each([
    ['only the included containers', ['a', 'c'], [], ['a', 'c'], []],
    ['a container both included and skipped is skipped', ['a', 'b'], ['b'], ['a'], []],
    [
      'an included name that matches no container is warned about',
      ['a', 'typo'],
      [],
      ['a'],
      ['include-containers names "typo", which is not a container of this Pod'],
    ],
  ])('include-containers: %s', (_case, include, skip, mutated, warnings) => {
    const result = injectIdentity(pod({ name: 'a' }, { name: 'b' }, { name: 'c' }), {
      ...identity,
      includeContainers: new Set(include),
      skipContainers: new Set(skip),
    });
    expect(result.pod.spec?.containers.filter((c) => c.env !== undefined).map((c) => c.name)).toEqual(
      mutated,
    );
    expect(result.warnings).toEqual(warnings);
  });
});

describe('isWindows', () => {
  const affinity = (...terms: string[][]): V1Pod => ({
    spec: {
      containers: [],
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: terms.map((values) => ({
              matchExpressions: [{ key: 'kubernetes.io/os', operator: 'In', values }],
            })),
          },
        },
      },
    },
  });

  it.each([
    ['kubernetes.io/os: windows', { 'kubernetes.io/os': 'windows' }, true],
    ['beta.kubernetes.io/os: windows', { 'beta.kubernetes.io/os': 'windows' }, true],
    ['kubernetes.io/os: linux', { 'kubernetes.io/os': 'linux' }, false],
    ['no OS label', { 'node.kubernetes.io/instance-type': 'm5.large' }, false],
  ])('node selector %s: %s', (_case, nodeSelector, windows) => {
    expect(isWindows({ spec: { containers: [], nodeSelector } })).toBe(windows);
  });

  it.each([
    ['one term pinning Windows', [['windows']], true],
    ['every term pinning Windows', [['windows'], ['windows']], true],
    ['one of two terms pinning Windows', [['windows'], ['linux']], false],
    ['a term allowing Windows or Linux', [['windows', 'linux']], false],
    ['no terms', [], false],
  ])('required affinity with %s: %s', (_case, terms, windows) => {
    expect(isWindows(affinity(...terms))).toBe(windows);
  });
});

describe('the patch, for generated Pods (property)', () => {
  const envVar = fc.record({
    name: fc.oneof(fc.constantFrom(...IDENTITY_VARS), fc.stringMatching(/^[A-Z_]{1,8}$/)),
    value: fc.string(),
  });
  const mount = fc.record({
    name: fc.oneof(fc.constant(TOKEN_VOLUME_NAME), fc.stringMatching(/^[a-z]{1,6}$/)),
    mountPath: fc.oneof(fc.constant(MOUNT), fc.stringMatching(/^\/[a-z]{1,6}$/)),
  });
  const container = (name: string) =>
    fc.record(
      {
        name: fc.constant(name),
        image: fc.constant('busybox'),
        env: fc.array(envVar, { maxLength: 4 }),
        volumeMounts: fc.array(mount, { maxLength: 3 }),
        restartPolicy: fc.constant('Always'),
        unknownField: fc.jsonValue().map((value) => JSON.parse(JSON.stringify(value)) as unknown),
      },
      { requiredKeys: ['name'] },
    );
  const podArb = fc
    .record({
      containers: fc.integer({ min: 1, max: 4 }),
      init: fc.integer({ min: 0, max: 2 }),
      volumes: fc.array(
        fc.record({ name: fc.oneof(fc.constant(TOKEN_VOLUME_NAME), fc.stringMatching(/^[a-z]{1,6}$/)) }),
        {
          maxLength: 3,
        },
      ),
      windows: fc.boolean(),
    })
    .chain(({ containers, init, volumes, windows }) =>
      fc.record({
        apiVersion: fc.constant('v1'),
        kind: fc.constant('Pod'),
        metadata: fc.constantFrom(
          { name: 'p', namespace: 'ns' },
          { name: 'web-0', namespace: 'ns' },
          { generateName: 'web-', namespace: 'ns' },
        ),
        spec: fc.record(
          {
            containers: fc.tuple(...Array.from({ length: containers }, (_, i) => container(`c${i}`))),
            initContainers: fc.tuple(...Array.from({ length: init }, (_, i) => container(`i${i}`))),
            ephemeralContainers: fc.constant([{ name: 'debug' }]),
            volumes: fc.constant(volumes),
            nodeSelector: fc.constant(windows ? { 'kubernetes.io/os': 'windows' } : {}),
            securityContext: fc.constantFrom({}, { runAsNonRoot: true }, { fsGroup: 0 }, { fsGroup: 2000 }),
          },
          { requiredKeys: ['containers'] },
        ),
      }),
    );
  const identityArb = fc.record({
    roleArn: fc.constantFrom(identity.roleArn, ''),
    audience: fc.constantFrom(DEFAULT_TOKEN_AUDIENCE, 'custom'),
    expirationSeconds: fc.integer({ min: 600, max: 100000 }),
    tokenMountPath: fc.constant(MOUNT),
    regionalSts: fc.boolean(),
    stsEndpoint: fc.constantFrom('', 'http://127.0.0.1:4566'),
    region: fc.constantFrom('', 'eu-west-1'),
    skipContainers: fc.subarray(['c0', 'c1', 'i0']).map((names) => new Set(names)),
    includeContainers: fc.option(
      fc.subarray(['c0', 'c2', 'i1', 'absent']).map((names) => new Set(names)),
      { nil: undefined },
    ),
    fsGroup: fc.option(fc.constantFrom(0, 1000, 65534), { nil: undefined }),
    roleSessionNameFromPod: fc.boolean(),
    tokenVolumeName: fc.constant(TOKEN_VOLUME_NAME),
    tokenPath: fc.constant(TOKEN_FILE),
    containerCredentialsFullUri: fc.constant(''),
  });

  it('applies cleanly, only adds where the rules allow, keeps what existed, and is idempotent', () => {
    fc.assert(
      fc.property(podArb, identityArb, (generated, id) => {
        const original = generated as V1Pod;
        const { pod: mutated } = injectIdentity(original, id);
        const patch = diffPods(original, mutated);
        expect(applyPatch(original, patch)).toEqual(mutated);
        for (const op of patch) {
          expect(op.op).toBe('add');
          expect(op.path).toMatch(
            /^\/spec\/(volumes(\/\d+)?|securityContext(\/fsGroup)?|(initContainers|containers)\/\d+\/(env|volumeMounts)(\/\d+)?)$/,
          );
        }
        const before = [...(original.spec?.initContainers ?? []), ...(original.spec?.containers ?? [])];
        const after = [...(mutated.spec?.initContainers ?? []), ...(mutated.spec?.containers ?? [])];
        before.forEach((container, i) => {
          const now = after[i]!;
          const selected =
            !id.skipContainers.has(container.name) && (id.includeContainers?.has(container.name) ?? true);
          if (!selected) expect(now).toEqual(container);
          expect(now.env?.slice(0, container.env?.length ?? 0)).toEqual(
            container.env ?? (now.env ? [] : undefined),
          );
          const names = (now.env ?? []).map((e) => e.name);
          expect(new Set(names.filter((n) => IDENTITY_VARS.includes(n))).size).toBe(
            names.filter((n) => IDENTITY_VARS.includes(n)).length -
              duplicatesIn(container.env?.map((e) => e.name) ?? []),
          );
        });
        expect(mutated.spec?.ephemeralContainers).toEqual(original.spec?.ephemeralContainers);
        const fsGroup = original.spec?.securityContext?.fsGroup;
        if (fsGroup !== undefined || id.roleArn === '') {
          expect(mutated.spec?.securityContext?.fsGroup).toBe(fsGroup);
        }
        expect(diffPods(mutated, injectIdentity(mutated, id).pod)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});

/** Identity variables the generated Pod already repeated: the mutation never adds a repeat. */
function duplicatesIn(names: string[]): number {
  const identityNames = names.filter((n) => IDENTITY_VARS.includes(n));
  return identityNames.length - new Set(identityNames).size;
}
