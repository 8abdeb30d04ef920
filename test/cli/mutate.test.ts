// The built CLI as a user runs it: `node dist/cli/main.js mutate ...` (npm test builds first).
import { execFile, spawn } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { OUTPUTS } from '../../src/commands/mutate-formats.js';
import { applyPatch, type Operation } from '../../src/mutation/patch.js';
import { ANNOTATION, DEFAULT_ANNOTATION_PREFIX, ENV } from '../../src/vocabulary.js';
import { expectFixtureResponse, fixturesNamed, loadFixtures, optionFlags } from '../support/fixtures.js';
import { ROLE_ARN, ROLE_ARN_KEY } from '../support/reviews.js';
import { serveArgs, servingPorts } from '../support/serving.js';
import { testCertificates, type TestCertificates } from '../support/tls.js';
import { waitFor } from '../support/wait.js';
import type { AdmissionReviewResponse } from '../../src/admission/review.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], stdin?: string, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { env }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(stdin ?? '');
  });
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'piw-cli-'));
});

/** A few representative fixtures; every fixture runs through the core in test/unit/fixtures.test.ts. */
const REPRESENTATIVE = [
  'v1beta1-review',
  'sts-and-region',
  'typo-role-annotation',
  'windows-node-selector',
  'config-map-glob',
  'config-map-default-audience',
];

describe.concurrent('mutate, for representative fixtures', () => {
  const fixtures = loadFixtures().filter((f) => REPRESENTATIVE.includes(f.name));

  it('finds them', () => expect(fixtures.map((f) => f.name).sort()).toEqual([...REPRESENTATIVE].sort()));

  it.each(fixtures.map((f) => [f.name, f] as const))('%s', async (_name, fixture) => {
    const args = [
      'mutate',
      join(fixture.dir, 'review.json'),
      '--service-accounts',
      fixture.serviceAccountsFile,
      ...(fixture.configMapFile === undefined ? [] : ['--config-map', fixture.configMapFile]),
      ...optionFlags(fixture.optionsJson),
    ];
    const warnings = fixture.expectedWarnings.map((w) => `pod-identity-webhook: warning: ${w}\n`).join('');
    const patch = await run([...args, '--output', 'patch']);
    expect(patch).toMatchObject({ code: 0, stderr: warnings });
    expect(applyPatch(fixture.review.request.object, JSON.parse(patch.stdout) as Operation[])).toEqual(
      fixture.expectedPod,
    );
    const pod = await run([...args, '--output', 'pod']);
    expect(pod).toMatchObject({ code: 0, stderr: warnings });
    expect(JSON.parse(pod.stdout)).toEqual(fixture.expectedPod);
  });
});

/** The opt-ins that are not in the Go webhook: each fixture through both commands, by their flags. */
const OPT_INS = [
  'fs-group-option',
  'fs-group-annotation-invalid',
  'role-session-name-option',
  'region-annotation',
  'region-without-role',
  'include-containers',
  'token-expiration-max-bound',
  'token-expiration-min-bound',
  'pod-role-arn-allowed',
  'pod-role-arn-not-allowed',
];

/** `serve` with the flags, one review posted over HTTPS, then SIGTERM: the server's answer. */
async function serveOnce(
  args: string[],
  review: unknown,
  certs: TestCertificates,
): Promise<AdmissionReviewResponse> {
  const child = spawn(process.execPath, [CLI, ...serveArgs(certs), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    const { port } = await waitFor('serve to listen', () => servingPorts(output), { intervalMs: 25 });
    return await new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          port,
          host: 'localhost',
          path: '/mutate',
          method: 'POST',
          ca: certs.ca,
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve(JSON.parse(body) as AdmissionReviewResponse));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(review));
    });
  } finally {
    child.kill('SIGTERM');
  }
}

describe.concurrent('the opt-ins, the same in mutate and serve', () => {
  let certs: TestCertificates;
  beforeAll(async () => {
    certs = await testCertificates();
  });

  it.each(fixturesNamed(...OPT_INS).map((f) => [f.name, f] as const))('%s', async (_name, fixture) => {
    const flags = ['--service-accounts', fixture.serviceAccountsFile, ...optionFlags(fixture.optionsJson)];
    const mutated = await run(['mutate', join(fixture.dir, 'review.json'), ...flags, '--output', 'pod']);
    expect(mutated).toMatchObject({
      code: 0,
      stderr: fixture.expectedWarnings.map((w) => `pod-identity-webhook: warning: ${w}\n`).join(''),
    });
    expect(JSON.parse(mutated.stdout)).toEqual(fixture.expectedPod);
    expectFixtureResponse(fixture, await serveOnce(flags, fixture.review, certs));
  });

  it.each([
    [
      '--min-token-expiration=300',
      /--min-token-expiration must be a whole number of seconds from 600 \(Kubernetes' minimum\) to 4294967296, got 300\n$/,
    ],
    [
      '--max-token-expiration=5000000000',
      /--max-token-expiration must be a whole number of seconds from 600 \(Kubernetes' minimum\) to 4294967296, got 5000000000\n$/,
    ],
    [
      '--min-token-expiration=7200 --max-token-expiration=3600',
      /--min-token-expiration 7200 is above --max-token-expiration 3600\n$/,
    ],
    ['--fs-group=-1', /--fs-group must be a whole number from 0 to 2147483647, got "-1"\n$/],
    ['--fs-group=wheel', /--fs-group must be a whole number from 0 to 2147483647, got "wheel"\n$/],
    [
      '--allow-pod-role-arn=maybe',
      /^pod-identity-webhook: --allow-pod-role-arn must be true or false, got "maybe"\n$/,
    ],
  ])('%s fails the same in mutate and serve', async (flags, message) => {
    for (const command of ['mutate', 'serve']) {
      const result = await run(
        [command, ...flags.split(' '), '--service-accounts', 'examples/service-accounts.yaml'],
        '',
      );
      expect(result, command).toMatchObject({ code: 1, stdout: '' });
      expect(result.stderr, command).toMatch(message);
    }
  });

  it.each([['mutate'], ['serve']])('%s --help lists every opt-in flag', async (command) => {
    const help = (await run([command, '--help'])).stdout;
    for (const flag of [
      '--min-token-expiration',
      '--max-token-expiration',
      '--fs-group',
      '--role-session-name-from-pod',
      '--region-without-role',
      '--allow-pod-role-arn',
    ]) {
      expect(help).toContain(flag);
    }
    expect(help).not.toContain('--no-');
    expect(help.replace(/\s+/g, ' ')).toContain("(default: 4294967296, the API server's own limit)");
  });

  it('takes a boolean opt-in without a value and before the file, as Go does', async () => {
    const fixture = fixturesNamed('role-session-name-option')[0]!;
    const result = await run([
      'mutate',
      '--role-session-name-from-pod',
      join(fixture.dir, 'review.json'),
      '--service-accounts',
      fixture.serviceAccountsFile,
      '--output',
      'pod',
    ]);
    expect(JSON.parse(result.stdout)).toEqual(fixture.expectedPod);
  });
});

describe('mutate', () => {
  const accountsYaml = `apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ServiceAccount\n  metadata: {name: app, namespace: team, annotations: {${ROLE_ARN_KEY}: "${ROLE_ARN}"}}\n`;
  const pod = `apiVersion: v1\nkind: Pod\nmetadata: {name: app}\nspec:\n  serviceAccountName: app\n  containers: [{name: app, image: busybox}]\n`;

  it.each([
    [
      'a ConfigMap whose config is not JSON',
      'kind: ConfigMap\ndata: {config: "{"}\n',
      /key config is not JSON/,
    ],
    [
      'an entry with a mistyped field',
      'kind: ConfigMap\ndata:\n  config: \'{"team/app": {"RoleARN": "x", "UseRegionalSTS": "yes"}}\'\n',
      /key "team\/app": field UseRegionalSTS must be true or false, got "yes"/,
    ],
    ['two objects', 'kind: ConfigMap\n---\nkind: ConfigMap\n', /expected one ConfigMap, found 2 objects/],
  ])('refuses --config-map with %s, naming the file', async (_case, text, message) => {
    const file = join(tmp, `config-map-${_case.length}.yaml`);
    await writeFile(file, text);
    const result = await run(['mutate', '-', '--namespace', 'team', '--config-map', file], pod);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^pod-identity-webhook: --config-map ${file}: `));
    expect(result.stderr).toMatch(message);
  });

  it('reads a bare YAML Pod from stdin as a CREATE in --namespace and prints the review response', async () => {
    const file = join(tmp, 'accounts.yaml');
    await writeFile(file, accountsYaml);
    const result = await run(
      ['mutate', '-', '--service-accounts', file, '--namespace', 'team', '--format', 'json'],
      pod,
    );
    expect(result.code).toBe(0);
    const review = JSON.parse(result.stdout);
    expect(review).toMatchObject({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { allowed: true, patchType: 'JSONPatch' },
    });
    expect(review.response.uid).toMatch(/^[0-9a-f-]{36}$/);
    const mutated = await run(
      [
        'mutate',
        '--service-accounts',
        file,
        '--namespace',
        'team',
        '--output',
        'pod',
        '--aws-default-region',
        'eu-west-1',
      ],
      pod,
    );
    const env = (parseYaml(mutated.stdout) as V1Pod).spec?.containers[0]?.env?.map((e) => e.name);
    expect(env).toEqual([ENV.defaultRegion, ENV.region, ENV.roleArn, ENV.webIdentityTokenFile]);
  });

  it.each(OUTPUTS.map((output) => [output]))(
    'prints every warning on stderr with --output %s',
    async (output) => {
      const file = join(tmp, `typo-${output}.yaml`);
      await writeFile(
        file,
        `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: app, namespace: default, annotations: {eks.amazon.com/role-arn: "${ROLE_ARN}"}}\n`,
      );
      const missing = await run(['mutate', '--output', output], pod);
      expect(missing).toMatchObject({
        code: 0,
        stderr: 'pod-identity-webhook: warning: ServiceAccount default/app not found; Pod not mutated\n',
      });
      const typo = await run(['mutate', '--output', output, '--service-accounts', file], pod);
      expect(typo).toMatchObject({
        code: 0,
        stderr: `pod-identity-webhook: warning: ServiceAccount annotation "eks.amazon.com/${ANNOTATION.roleArn}" is ignored; did you mean "${DEFAULT_ANNOTATION_PREFIX}/${ANNOTATION.roleArn}"?\n`,
      });
    },
  );

  it.each([
    ['YAML in, YAML out', pod, [], (text: string) => parseYaml(text) as unknown],
    ['JSON in, JSON out', JSON.stringify(parseYaml(pod)), [], (text: string) => JSON.parse(text) as unknown],
    ['YAML in, --format json', pod, ['--format', 'json'], (text: string) => JSON.parse(text) as unknown],
    [
      'JSON in, --format yaml',
      JSON.stringify(parseYaml(pod)),
      ['--format', 'yaml'],
      (text: string) => {
        expect(text.trimStart().startsWith('{')).toBe(false);
        return parseYaml(text) as unknown;
      },
    ],
  ])('prints the Pod in the input’s format unless told: %s', async (_name, input, args, parse) => {
    const result = await run(['mutate', '--output', 'pod', ...args], input);
    expect(result.code).toBe(0);
    expect(parse(result.stdout)).toEqual(parseYaml(pod));
  });

  it.each([
    ['--sts-regional-endpoint FILE (the file is not taken as its value)', ['--sts-regional-endpoint'], true],
    ['--sts-regional-endpoint=true', ['--sts-regional-endpoint=true'], true],
    ['--sts-regional-endpoint=false', ['--sts-regional-endpoint=false'], false],
    ['--sts-regional-endpoint=1', ['--sts-regional-endpoint=1'], true],
    ['--sts-regional-endpoint=F', ['--sts-regional-endpoint=F'], false],
    ['no flag', [], false],
  ])('takes a boolean flag as Go does: %s', async (_name, flag, regional) => {
    const file = join(tmp, 'pod.yaml');
    const accounts = join(tmp, 'bool-accounts.yaml');
    await writeFile(file, pod.replace('{name: app}', '{name: app, namespace: team}'));
    await writeFile(accounts, accountsYaml);
    const result = await run(['mutate', ...flag, file, '--service-accounts', accounts, '--output', 'pod']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const env = (parseYaml(result.stdout) as V1Pod).spec?.containers[0]?.env ?? [];
    expect(env.some((e) => e.name === ENV.stsRegionalEndpoints)).toBe(regional);
    expect(env.some((e) => e.name === ENV.roleArn)).toBe(true);
  });

  it.each([
    ['JSON with a byte-order mark', 'bom.json', `\uFEFF${JSON.stringify(parseYaml(pod))}`, 'json'],
    [
      'YAML in flow style, which starts as JSON does',
      'flow.yaml',
      '{kind: Pod, metadata: {name: app}, spec: {containers: [{name: app}]}}',
      'yaml',
    ],
  ])('reads %s', async (_name, file, text, format) => {
    await writeFile(join(tmp, file), text);
    const result = await run(['mutate', join(tmp, file), '--output', 'pod']);
    expect(result).toMatchObject({ code: 0, stderr: expect.stringContaining('not found') });
    const printed = format === 'json' ? JSON.parse(result.stdout) : parseYaml(result.stdout);
    expect(printed).toMatchObject({ kind: 'Pod', metadata: { name: 'app' } });
  });

  it.each([
    [
      'a JSON file that does not parse: the error speaks JSON',
      'broken.json',
      '{"kind": "Pod",',
      /^pod-identity-webhook: \S+broken\.json: invalid JSON: .+\n$/,
    ],
    [
      'a YAML file that does not parse',
      'broken.yaml',
      'kind: Pod\nspec: [\n',
      /^pod-identity-webhook: \S+broken\.yaml: (?!.*JSON).+\n$/,
    ],
    [
      'a bare Pod without containers: named from the Pod, not request.object',
      'no-containers.yaml',
      'kind: Pod\nspec: {}\n',
      /^pod-identity-webhook: \S+no-containers\.yaml: spec\.containers must be an array, got undefined\n$/,
    ],
    [
      'a malformed review',
      'review.json',
      '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}',
      /^pod-identity-webhook: \S+review\.json: request\.uid must be a string, got undefined\n$/,
    ],
    [
      'a review with a malformed Pod',
      'bad-pod-review.json',
      '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"operation":"CREATE","object":{"spec":{"containers":"x"}}}}',
      /^pod-identity-webhook: \S+bad-pod-review\.json: request\.object\.spec\.containers must be an array, got string\n$/,
    ],
  ])('names the file in the error for %s', async (_what, name, text, message) => {
    const file = join(tmp, name);
    await writeFile(file, text);
    const result = await run(['mutate', file]);
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toMatch(message);
  });

  it.each([
    [
      'an unreadable file',
      ['mutate', '/nonexistent.json'],
      '',
      /^pod-identity-webhook: \/nonexistent.json cannot be read: ENOENT\n$/,
    ],
    ['broken JSON', ['mutate'], '{"kind": "Pod"', /^pod-identity-webhook: stdin: invalid JSON: .+\n$/],
    [
      'an empty input',
      ['mutate'],
      '',
      /^pod-identity-webhook: stdin: expected one AdmissionReview or Pod, found 0 objects\n$/,
    ],
    [
      'another kind',
      ['mutate'],
      'kind: Deployment\n',
      /^pod-identity-webhook: stdin: expected kind AdmissionReview or Pod, got "Deployment"\n$/,
    ],
    [
      'a malformed review',
      ['mutate'],
      '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}',
      /^pod-identity-webhook: stdin: request.uid must be a string, got undefined\n$/,
    ],
    [
      'a Pod without containers',
      ['mutate'],
      'kind: Pod\nspec: {}\n',
      /^pod-identity-webhook: stdin: spec.containers must be an array, got undefined\n$/,
    ],
    [
      'a missing ServiceAccounts file',
      ['mutate', '--service-accounts', '/nonexistent.yaml'],
      pod,
      /^pod-identity-webhook: --service-accounts \/nonexistent.yaml cannot be read: ENOENT\n$/,
    ],
    [
      'a bad ServiceAccounts file',
      ['mutate', '--service-accounts', 'package.json'],
      pod,
      /^pod-identity-webhook: package.json: object 1 must be a ServiceAccount, got kind nothing\n$/,
    ],
    [
      'a review with no Pod to print',
      ['mutate', '--output', 'pod'],
      '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"operation":"DELETE"}}',
      /^pod-identity-webhook: stdin: --output pod needs a Pod CREATE, got DELETE of pods; use --output review\n$/,
    ],
    [
      'a bad flag value',
      ['mutate', '--token-expiration', 'ten'],
      pod,
      /^pod-identity-webhook: option '--token-expiration <seconds>' argument 'ten' is invalid. --token-expiration must be a whole number of seconds, got "ten"\n$/,
    ],
    [
      'an unknown output',
      ['mutate', '--output', 'yaml'],
      pod,
      /^pod-identity-webhook: option '--output <what>' argument 'yaml' is invalid. Allowed choices are review, patch, pod.\n$/,
    ],
    ['an unknown option', ['mutate', '--nope'], pod, /^pod-identity-webhook: unknown option '--nope'\n$/],
    [
      'a boolean flag followed by a separate true',
      ['mutate', '--sts-regional-endpoint', 'true'],
      pod,
      /^pod-identity-webhook: --sts-regional-endpoint takes no separate value; write --sts-regional-endpoint=true \(or --sts-regional-endpoint alone for true\)\n$/,
    ],
    [
      'a boolean flag given something other than true or false',
      ['mutate', '--sts-regional-endpoint=maybe'],
      pod,
      /^pod-identity-webhook: --sts-regional-endpoint must be true or false, got "maybe"\n$/,
    ],
    ['an unknown command', ['bogus'], '', /^pod-identity-webhook: unknown command 'bogus'\n$/],
    [
      'a bad prefix',
      ['mutate', '--annotation-prefix', 'Not A Prefix'],
      pod,
      /^pod-identity-webhook: --annotation-prefix must be a DNS subdomain/,
    ],
    [
      'a prefix with a slash',
      ['mutate', '--annotation-prefix', 'example.com/iam'],
      pod,
      /must be a DNS subdomain .+ got "example.com\/iam"\n$/,
    ],
  ])('fails with one line naming %s and exit status 1', async (_what, args, stdin, message) => {
    const result = await run(args, stdin);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
  });
});

describe('the executable', () => {
  it('prints its version and help', async () => {
    const { version } = (await import('../../package.json', { with: { type: 'json' } })).default;
    expect((await run(['--version'])).stdout.trim()).toBe(version);
    const help = await run(['serve', '--help']);
    for (const flag of [
      '--annotation-prefix',
      '--token-audience',
      '--token-mount-path',
      '--token-expiration',
      '--aws-default-region',
      '--sts-regional-endpoint',
      '--port',
      '--metrics-port',
      '--tls-cert',
      '--tls-key',
      '--tls-min-version',
      '--kubeconfig',
      '--service-accounts',
      '--service-account-lookup-grace-period',
      '--log-level',
    ]) {
      expect(help.stdout).toContain(flag);
    }
  });

  it.each([
    [
      ['--in-cluster=true'],
      /^pod-identity-webhook: --in-cluster=true is not supported: .+; use --certificates=builtin, or pass --tls-cert and --tls-key \(e.g. from cert-manager\)\n$/,
    ],
    [
      ['--watch-config-map', '--service-accounts', 'examples/service-accounts.yaml'],
      /^pod-identity-webhook: --watch-config-map needs --namespace \(or \$POD_NAMESPACE, or to run in a Pod\)\n$/,
    ],
    [
      ['--compose-role-arn=true', '--aws-account-id=12345', '--aws-default-region=eu-west-1'],
      /^pod-identity-webhook: --aws-account-id must be 12 digits, got "12345"\n$/,
    ],
    [
      ['--certificates=builtin', '--service-accounts', 'examples/service-accounts.yaml'],
      /^pod-identity-webhook: --certificates=builtin needs --namespace \(or \$POD_NAMESPACE, or to run in a Pod\)\n$/,
    ],
    [
      ['--certificates=self-signed'],
      /^pod-identity-webhook: option '--certificates <mode>' argument 'self-signed' is invalid. Allowed choices are files, builtin.\n$/,
    ],
    [
      ['--certificates=builtin', '--namespace=x', '--certificate-validity=0'],
      /^pod-identity-webhook: --certificate-validity must be at least 30s, got 0\n$/,
    ],
    [
      ['--certificates=builtin', '--namespace=x', '--ca-validity=1h', '--certificate-validity=2h'],
      /^pod-identity-webhook: --ca-validity \(1h\) must be at least --certificate-validity \(2h\)\n$/,
    ],
    [
      ['--ca-validity', 'forever'],
      /--ca-validity must be a duration such as 0, 500ms, 2s or 1m30s, got "forever"\n$/,
    ],
    [['--in-cluster=yes'], /^pod-identity-webhook: --in-cluster must be true or false, got "yes"\n$/],
    [
      ['--kube-api', 'https://10.0.0.1'],
      /^pod-identity-webhook: --kube-api is not supported: pass a --kubeconfig/,
    ],
    [
      ['--service-account-lookup-grace-period', '1m'],
      /^pod-identity-webhook: .+--service-account-lookup-grace-period must be at most 30s, got "1m"\n$/,
    ],
    [
      ['--shutdown-delay', 'soon'],
      /^pod-identity-webhook: .+--shutdown-delay must be a duration such as 0, 500ms, 2s or 1m30s, got "soon"\n$/,
    ],
  ])('serve %j fails at once with one line naming the problem', async (args, message) => {
    const result = await run(['serve', ...args]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
  });

  it('raises a --token-expiration below 600, as the Go webhook, and says so', async () => {
    const file = join(tmp, 'expiration-accounts.yaml');
    await writeFile(
      file,
      `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: app, namespace: default, annotations: {${ROLE_ARN_KEY}: "${ROLE_ARN}"}}\n`,
    );
    const pod = `kind: Pod\nmetadata: {name: a}\nspec: {serviceAccountName: app, containers: [{name: a}]}\n`;
    const result = await run(
      ['mutate', '--token-expiration', '300', '--service-accounts', file, '--output', 'pod'],
      pod,
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(
      'pod-identity-webhook: warning: --token-expiration 300 is below the minimum; raised to 600\n',
    );
    const volume = (parseYaml(result.stdout) as V1Pod).spec?.volumes?.[0];
    expect(volume?.projected?.sources?.[0]?.serviceAccountToken?.expirationSeconds).toBe(600);
  });

  it('shows duration defaults in --help in the form the flag accepts', async () => {
    const help = (await run(['serve', '--help'])).stdout.replace(/\s+/g, ' ');
    const defaults = {
      '--service-account-lookup-grace-period': '1s',
      '--shutdown-delay': '2s',
    };
    for (const [flag, value] of Object.entries(defaults)) {
      expect(help).toMatch(new RegExp(`${flag} <duration> .*?\\(default: ${value}\\)`));
    }
    // Given back to the flags, the defaults are accepted: serve gets as far as the certificate.
    const result = await run([
      'serve',
      ...Object.entries(defaults).flat(),
      '--tls-cert',
      '/nonexistent/tls.crt',
      '--service-accounts',
      'examples/service-accounts.yaml',
    ]);
    expect(result.stderr).toBe(
      'pod-identity-webhook: --tls-cert /nonexistent/tls.crt cannot be read: ENOENT\n',
    );
  });

  it('stops at once when given no way to read ServiceAccounts, naming both ways', async () => {
    const certs = await testCertificates();
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: tmp };
    delete env['KUBECONFIG'];
    delete env['KUBERNETES_SERVICE_HOST'];
    const result = await run(serveArgs(certs), '', env);
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toMatch(
      /^pod-identity-webhook: no ServiceAccounts to read: pass --service-accounts FILE .+, or --kubeconfig FILE .+\n$/,
    );
  });

  it('exits 1 with a clear message when serve cannot start', async () => {
    const result = await run([
      'serve',
      '--tls-cert',
      '/nonexistent/tls.crt',
      '--tls-key',
      '/nonexistent/tls.key',
      '--service-accounts',
      'examples/service-accounts.yaml',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'pod-identity-webhook: --tls-cert /nonexistent/tls.crt cannot be read: ENOENT\n',
    );
  });
});
