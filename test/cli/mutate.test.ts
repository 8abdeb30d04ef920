// The built CLI as a user runs it: `node dist/cli.js mutate ...` (npm test builds first).
import { execFile } from 'node:child_process';
import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyPatch, type Operation } from '../../src/mutation/patch.js';
import { loadFixtures, optionFlags } from '../support/fixtures.js';
import { ROLE_ARN } from '../support/reviews.js';

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(stdin ?? '');
  });
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'piw-cli-'));
});

describe.concurrent('mutate, for every fixture', () => {
  it.each(loadFixtures().map((f) => [f.name, f] as const))('%s', async (_name, fixture) => {
    const args = [
      'mutate',
      join(fixture.dir, 'review.json'),
      '--service-accounts',
      fixture.serviceAccountsFile,
      ...optionFlags(fixture.optionsJson),
    ];
    const patch = await run([...args, '--output', 'patch']);
    expect(patch.stderr).toBe('');
    expect(patch.code).toBe(0);
    expect(applyPatch(fixture.review.request.object, JSON.parse(patch.stdout) as Operation[])).toEqual(
      fixture.expectedPod,
    );
    const pod = await run([...args, '--output', 'pod']);
    expect(JSON.parse(pod.stdout)).toEqual(fixture.expectedPod);
  });
});

describe('mutate', () => {
  const accounts = `apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ServiceAccount\n  metadata: {name: app, namespace: team, annotations: {eks.amazonaws.com/role-arn: "${ROLE_ARN}"}}\n`;
  const pod = `apiVersion: v1\nkind: Pod\nmetadata: {name: app}\nspec:\n  serviceAccountName: app\n  containers: [{name: app, image: busybox}]\n`;

  it('reads a bare YAML Pod from stdin as a CREATE in --namespace and prints the review response', async () => {
    const file = join(tmp, 'accounts.yaml');
    await writeFile(file, accounts);
    const result = await run(['mutate', '-', '--service-accounts', file, '--namespace', 'team'], pod);
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
    const env = (JSON.parse(mutated.stdout) as V1Pod).spec?.containers[0]?.env?.map((e) => e.name);
    expect(env).toEqual(['AWS_DEFAULT_REGION', 'AWS_REGION', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE']);
  });

  it('prints the warnings of a missing ServiceAccount and no patch', async () => {
    const result = await run(['mutate', '--output', 'review'], pod);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).response.warnings).toEqual([
      'ServiceAccount default/app not found; Pod not mutated',
    ]);
    expect(JSON.parse((await run(['mutate', '--output', 'patch'], pod)).stdout)).toEqual([]);
  });

  it.each([
    [
      'an unreadable file',
      ['mutate', '/nonexistent.json'],
      '',
      /^pod-identity-webhook: \/nonexistent.json cannot be read: ENOENT\n$/,
    ],
    ['broken YAML', ['mutate'], '{"kind": "Pod"', /^pod-identity-webhook: stdin: .+\n$/],
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
      /^pod-identity-webhook: request.uid must be a string, got undefined\n$/,
    ],
    [
      'a Pod without containers',
      ['mutate'],
      'kind: Pod\nspec: {}\n',
      /^pod-identity-webhook: request.object.spec.containers must be an array, got undefined\n$/,
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
      /^pod-identity-webhook: option '--token-expiration <seconds>' argument 'ten' is invalid. --token-expiration must be a whole number from 0 to 4294967296, got "ten"\n$/,
    ],
    [
      'an unknown output',
      ['mutate', '--output', 'yaml'],
      pod,
      /^pod-identity-webhook: option '--output <format>' argument 'yaml' is invalid. Allowed choices are review, patch, pod.\n$/,
    ],
    ['an unknown option', ['mutate', '--nope'], pod, /^pod-identity-webhook: unknown option '--nope'\n$/],
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
      /^pod-identity-webhook: --in-cluster=true is not supported: .+; pass --tls-cert and --tls-key, e.g. from cert-manager\n$/,
    ],
    [
      ['--watch-config-map'],
      /^pod-identity-webhook: --watch-config-map=true is not supported: it reads roles from a ConfigMap; annotate the ServiceAccounts\n$/,
    ],
    [['--compose-role-arn=true'], /^pod-identity-webhook: --compose-role-arn=true is not supported/],
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
      `apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: app, namespace: default, annotations: {eks.amazonaws.com/role-arn: "${ROLE_ARN}"}}\n`,
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
    const volume = (JSON.parse(result.stdout) as V1Pod).spec?.volumes?.[0];
    expect(volume?.projected?.sources?.[0]?.serviceAccountToken?.expirationSeconds).toBe(600);
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
