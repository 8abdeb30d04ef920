// The Go webhook's own manifests (aws/amazon-eks-pod-identity-webhook deploy/), with only the image
// changed: its Deployment runs `/webhook` with flags and no subcommand, behind a Service on 443.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { WEBHOOK_SCRIPT } from '../../hack/webhook-entry.mjs';
import { repoRoot } from '../support/paths.js';
import { postReview, serveArgs, servingPorts } from '../support/serving.js';
import { testCertificates, type TestCertificates } from '../support/tls.js';
import { waitFor } from '../support/wait.js';

const CLI = join(repoRoot, 'dist', 'cli', 'main.js');
const SERVICE_ACCOUNTS = join(repoRoot, 'examples', 'service-accounts.yaml');

/** deploy/deployment-base.yaml's `command`, after `/webhook`. */
const GO_DEPLOYMENT_ARGS = [
  '--in-cluster=false',
  '--namespace=default',
  '--service-name=pod-identity-webhook',
  '--annotation-prefix=eks.amazonaws.com',
  '--token-audience=sts.amazonaws.com',
  '--logtostderr',
];

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function start(command: string, args: string[]): Started {
  const child = spawn(command, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function servingPort(started: Started): Promise<number> {
  const { port } = await waitFor('the webhook to serve', () => servingPorts(started.output()), {
    intervalMs: 25,
    abortIf: () => (started.child.exitCode === null ? undefined : `exited: ${started.output()}`),
  });
  return port;
}

/** Where certificates, ServiceAccounts and ports go: the same for every way of starting. */
const localArgs = (certs: TestCertificates): string[] => [
  ...serveArgs(certs).slice(1), // without the subcommand: these are Go-style command lines
  '--service-accounts',
  SERVICE_ACCOUNTS,
  '--shutdown-delay',
  '0',
];

/** The Go manifests' MutatingWebhookConfiguration asks for admission.k8s.io/v1beta1 reviews. */
async function v1beta1Review(): Promise<string> {
  const review = JSON.parse(await readFile(join(repoRoot, 'examples', 'review.json'), 'utf8')) as {
    apiVersion: string;
  };
  return JSON.stringify({ ...review, apiVersion: 'admission.k8s.io/v1beta1' });
}

/** The webhook answers a Pod CREATE with a patch that gives it the role. */
async function expectMutates(port: number, certs: TestCertificates): Promise<void> {
  const answer = await postReview(port, certs.ca, await v1beta1Review());
  expect(answer.status).toBe(200);
  const response = (JSON.parse(answer.body) as { apiVersion: string; response: { patch: string } }).response;
  expect(JSON.parse(answer.body)).toMatchObject({ apiVersion: 'admission.k8s.io/v1beta1' });
  const patch = Buffer.from(response.patch, 'base64').toString();
  expect(patch).toContain('"AWS_ROLE_ARN"');
  expect(patch).toContain('arn:aws:iam::111122223333:role/s3-reader');
}

async function stop(started: Started): Promise<void> {
  started.child.kill('SIGTERM');
  expect(await started.exited).toBe(0);
}

describe('the Go webhook’s Deployment arguments, no subcommand', () => {
  it('serve: a webhook that mutates, reporting each Go flag it ignores', async () => {
    const certs = await testCertificates();
    const started = start(process.execPath, [CLI, ...GO_DEPLOYMENT_ARGS, ...localArgs(certs)]);
    await expectMutates(await servingPort(started), certs);
    await stop(started);
    for (const warning of [
      '--logtostderr (a flag of the Go webhook) is ignored: ',
      '--in-cluster (a flag of the Go webhook) is ignored: it is off',
      '--namespace is used only with --certificates=builtin; ignored',
      '--service-name is used only with --certificates=builtin; ignored',
    ]) {
      expect(started.output()).toContain(`"msg":"${warning}`);
    }
  });

  it('work through /webhook, a script like the image’s (shebang, then ./app/cli.mjs)', async () => {
    // The image: /webhook (dist/bundle/webhook, from hack/bundle.mjs) beside /app (the bundle).
    // Here: the same script, its shebang pointed at this Node, beside an app/ that runs dist/.
    const image = await mkdtemp(join(tmpdir(), 'piw-image-'));
    await mkdir(join(image, 'app'));
    await writeFile(join(image, 'app', 'cli.mjs'), `import ${JSON.stringify(CLI)};\n`);
    const script = WEBHOOK_SCRIPT;
    expect(script.split('\n')[0]).toBe('#!/nodejs/bin/node --max-semi-space-size=2');
    await writeFile(
      join(image, 'webhook'),
      script.replace(/^#!\/nodejs\/bin\/node/, `#!${process.execPath}`),
    );
    await chmod(join(image, 'webhook'), 0o755);
    const certs = await testCertificates();
    const started = start(join(image, 'webhook'), [...GO_DEPLOYMENT_ARGS, ...localArgs(certs)]);
    await expectMutates(await servingPort(started), certs);
    await stop(started);
  });

  it('listen on the Go webhook’s port, 443, unless told otherwise', async () => {
    const certs = await testCertificates();
    const args = localArgs(certs).slice(2); // without --port 0
    const started = start(process.execPath, [CLI, ...GO_DEPLOYMENT_ARGS, ...args]);
    // Root (or net.ipv4.ip_unprivileged_port_start=0) serves it; anyone else is told why not.
    const outcome = await waitFor('serving or failing', () => {
      const ports = servingPorts(started.output());
      if (ports) return `serving on ${ports.port}`;
      return started.child.exitCode === null ? undefined : started.output();
    });
    if (outcome.startsWith('serving')) {
      expect(outcome).toBe('serving on 443');
      await stop(started);
    } else {
      expect(outcome).toMatch(
        /^pod-identity-webhook: (cannot listen on port 443 as user \d+: ports below 1024 need root or net.ipv4.ip_unprivileged_port_start=0, .+, or pass --port 8443 and point the Service's targetPort at it|listen EADDRINUSE.*:443)\n$/,
      );
    }
  });

  it('keep port 8443 as the default of `serve`', async () => {
    const help = start(process.execPath, [CLI, 'serve', '--help']);
    expect(await help.exited).toBe(0);
    expect(help.output().replace(/\s+/g, ' ')).toMatch(
      /--port <port> HTTPS port \(443 without a subcommand, as the Go webhook\) \(default: 8443\)/,
    );
  });
});

/** Runs the CLI to its end. */
async function run(args: string[]): Promise<{ code: number | null; output: string }> {
  const started = start(process.execPath, [CLI, ...args]);
  const code = await started.exited;
  return { code, output: started.output() };
}

describe('every other flag of the Go webhook’s main.go', () => {
  it('accepts each flag it has no use for, in the forms Go takes, with a warning naming each', async () => {
    const certs = await testCertificates();
    const started = start(process.execPath, [
      CLI,
      '--resync-period=1m0s',
      '-v=4',
      '--enable-debugging-handlers',
      '--alsologtostderr=false',
      '--legacy_stderr_threshold_behavior',
      '--add_dir_header',
      '--skip_headers',
      '--skip_log_headers',
      '--one_output',
      '--log_dir=/tmp',
      '--log_file',
      '/tmp/log',
      '--log_file_max_size=10',
      '--stderrthreshold=INFO',
      '--alsologtostderrthreshold=ERROR',
      '--vmodule=handler=4',
      '--log_backtrace_at=main.go:1',
      '--container-credentials-audience=pods.eks.amazonaws.com',
      '--container-credentials-token-mount-path=/var/run/secrets/pods.eks.amazonaws.com/serviceaccount',
      '--container-credentials-token-volume-name=eks-pod-identity-token',
      '--container-credentials-token-path=eks-pod-identity-token',
      '--container-credentials-full-uri=http://169.254.170.23/v1/credentials',
      '--watch-container-credentials-config=',
      '--watch-config-map=false',
      '--compose-role-arn=false',
      '-tls-min-version=VersionTLS11',
      ...localArgs(certs),
    ]);
    await expectMutates(await servingPort(started), certs);
    await stop(started);
    const warnings = started
      .output()
      .split('\n')
      .filter((line) => line.includes('"level":40'))
      .map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(warnings.map((w) => w.split(' ')[0])).toEqual([
      '--v',
      '--enable-debugging-handlers',
      '--resync-period',
      '--alsologtostderr',
      '--legacy_stderr_threshold_behavior',
      '--add_dir_header',
      '--skip_headers',
      '--skip_log_headers',
      '--one_output',
      '--log_dir',
      '--log_file',
      '--log_file_max_size',
      '--stderrthreshold',
      '--alsologtostderrthreshold',
      '--vmodule',
      '--log_backtrace_at',
      '--tls-min-version',
    ]);
  });

  it.each([
    [
      'a container credentials file that cannot be read',
      ['--watch-container-credentials-config=/nonexistent/config.json'],
      /^pod-identity-webhook: container credentials config \/nonexistent\/config.json: ENOENT: .+\n$/,
    ],
    [
      'a resync period that is not a Go duration',
      ['--resync-period=60'],
      /^pod-identity-webhook: .+--resync-period must be a duration such as 0, 500ms, 2s or 1m30s, got "60"\n$/,
    ],
    [
      'an unknown cipher suite',
      ['--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_BOGUS'],
      /^pod-identity-webhook: --tls-cipher-suites: unknown cipher suite "TLS_BOGUS"; valid: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, /,
    ],
    [
      'an RC4 cipher suite',
      ['--tls-cipher-suites=TLS_RSA_WITH_RC4_128_SHA'],
      /^pod-identity-webhook: --tls-cipher-suites: TLS_RSA_WITH_RC4_128_SHA is not available here/,
    ],
    [
      'a TLS version Go does not know',
      ['--tls-min-version=1.4'],
      /^pod-identity-webhook: option '--tls-min-version <version>' argument '1.4' is invalid. --tls-min-version must be one of 1.0, 1.1, 1.2, 1.3/,
    ],
    [
      'a klog verbosity that is not a number',
      ['-v=high'],
      /^pod-identity-webhook: .+--v must be a whole number/,
    ],
    ['an unknown single-dash flag', ['-nope'], /^pod-identity-webhook: unknown option '-nope'\n$/],
  ])('refuses %s at once, in one line', async (_case, args, message) => {
    const result = await run([
      ...args,
      '--service-accounts',
      SERVICE_ACCOUNTS,
      '--tls-cert',
      '/nonexistent/tls.crt',
    ]);
    expect(result.code).toBe(1);
    expect(result.output).toMatch(message);
  });

  it('prints the version for --version anywhere in a Go command line, as pflag does', async () => {
    const { version } = (await import('../../package.json', { with: { type: 'json' } })).default;
    expect(await run([...GO_DEPLOYMENT_ARGS, '--version'])).toEqual({ code: 0, output: `${version}\n` });
  });
});

describe('--tls-cipher-suites over real TLS', () => {
  /** The protocol and cipher a client with `options` gets, or the error's code. */
  function handshake(port: number, ca: string, options: ConnectionOptions): Promise<string> {
    return new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...options }, () => {
        resolve(`${socket.getProtocol()} ${socket.getCipher().standardName}`);
        socket.end();
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(`refused: ${error.code}`));
    });
  }

  it('offers TLS 1.2 only the suites named, and TLS 1.3 all its own, as Go does', async () => {
    const certs = await testCertificates(); // an ECDSA certificate
    const started = start(process.execPath, [
      CLI,
      'serve',
      '--tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
      ...localArgs(certs),
    ]);
    const port = await servingPort(started);
    const tls12 = { maxVersion: 'TLSv1.2' } as const;
    expect(await handshake(port, certs.ca, tls12)).toBe('TLSv1.2 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384');
    expect(await handshake(port, certs.ca, { ...tls12, ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' })).toMatch(
      /^refused: ERR_SSL_.*HANDSHAKE_FAILURE$/,
    );
    // A client that offers one TLS 1.3 suite gets it: TLS 1.3 is not restricted.
    expect(await handshake(port, certs.ca, { ciphers: 'TLS_CHACHA20_POLY1305_SHA256' })).toBe(
      'TLSv1.3 TLS_CHACHA20_POLY1305_SHA256',
    );
    await expectMutates(port, certs);
    await stop(started);
  });
});
