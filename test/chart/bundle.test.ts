// The container image ships dist/bundle/ alone (hack/bundle.mjs: the CLI and the production
// dependencies it runs, no node_modules). CI cannot build the image, so this proves its payload:
// the bundle, run the way the Dockerfile's ENTRYPOINT runs it, answers like dist/ and serves
// against the real kube-apiserver, loading its lazily split parts (@kubernetes/client-node for the
// ServiceAccount informer, @peculiar/x509 and reflect-metadata for built-in certificates).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addDiagnostics, deferCleanup, uniqueSuffix, useE2E } from '../e2e/harness/clients.js';
import { httpsRequest } from '../e2e/harness/https.js';
import { injectedRoleArn } from '../e2e/harness/inspect.js';
import {
  createPod,
  createServiceAccount,
  createTestNamespace,
  podManifest,
  roleArn,
} from '../e2e/harness/objects.js';
import { freePort, ManagedProcess } from '../e2e/harness/processes.js';
import {
  caBundleOf,
  createWebhookConfiguration,
  podIdentityWebhook,
  registerPodIdentityWebhook,
  waitUntilEffective,
} from '../e2e/harness/registration.js';
import { imageNodeFlags } from '../../scripts/image-node-flags.mjs';
import { issueCertificate } from '../../scripts/pki.mjs';
import { repoRoot } from '../support/paths.js';
import { servingPorts } from '../support/serving.js';
import { waitFor } from '../support/wait.js';

const { ctx, core, admission } = useE2E();
const bundle = join(repoRoot, 'dist', 'bundle', 'cli.mjs');
const examples = join(repoRoot, 'examples');

/** The Node flags of the Dockerfile's ENTRYPOINT (between the node binary and the script). */
const nodeFlags = imageNodeFlags();

function run(script: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [...nodeFlags, script, ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Lines that are not JSON log lines: Node warnings, stack traces, anything unexpected. */
const strayLines = (output: string): string[] =>
  output.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('{'));

async function startBundle(
  name: string,
  args: string[],
  { preload, env }: { preload?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ port: number; process: ManagedProcess }> {
  const child = await ManagedProcess.start({
    name: `bundle ${name}`,
    command: process.execPath,
    args: [
      ...nodeFlags,
      ...(preload ? ['--import', preload] : []),
      bundle,
      'serve',
      '--metrics-port',
      '0',
      '--kubeconfig',
      ctx.kubeconfig,
      ...args,
    ],
    ...(env && { env: { ...process.env, ...env } }),
    cwd: repoRoot,
    logFile: join(ctx.logs.dir, `bundle-${name}.log`),
    pidDir: ctx.pidDir,
  });
  deferCleanup(async () => void (await child.stop()));
  addDiagnostics(() => `bundle ${name}: log ${child.logFile}\n${child.tail(25)}`);
  const { port } = await waitFor(`bundle ${name} to log its ports`, () => servingPorts(child.output()), {
    abortIf: () => child.exitReason(),
    hint: () => child.tail(25),
  });
  return { port, process: child };
}

describe('the bundled CLI (the image payload)', () => {
  it('prints the package version', () => {
    const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      version: string;
    };
    const result = run(bundle, ['--version']);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe(version);
  });

  it('starts from the compile cache the image makes (same Node flags as the ENTRYPOINT)', async () => {
    // The Dockerfile runs the bundle once with NODE_COMPILE_CACHE set, so that every start reuses
    // V8's compiled code; Node takes the cache only under the same V8 flags.
    const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^ENV NODE_COMPILE_CACHE=\/app\/compile-cache$/m);
    const made = /^RUN\s+(\["\/nodejs\/bin\/node".*\])\s*$/m.exec(dockerfile);
    if (!made)
      throw new Error('Dockerfile has no exec-form RUN of /nodejs/bin/node that makes the compile cache');
    const argv = JSON.parse(made[1]!) as string[];
    expect(argv.slice(argv.indexOf('/app/cli.mjs'))).toEqual(['/app/cli.mjs', '--version']);
    expect(argv.slice(1, argv.indexOf('/app/cli.mjs'))).toEqual(nodeFlags);

    const cache = join(ctx.runDir, 'bundle', `compile-cache-${uniqueSuffix()}`);
    await mkdir(cache, { recursive: true });
    const start = (env: NodeJS.ProcessEnv) =>
      spawnSync(process.execPath, [...nodeFlags, bundle, '--version'], {
        env: { ...process.env, NODE_COMPILE_CACHE: cache, ...env },
        encoding: 'utf8',
      });
    expect(start({}).status).toBe(0);
    const cached = start({ NODE_DEBUG_NATIVE: 'COMPILE_CACHE' });
    expect(cached.status).toBe(0);
    expect(cached.stderr).toMatch(/V8 code cache for ESM file:\/\/\S+\/cli\.mjs was accepted/);
  });

  it.each([
    { name: 'a Pod manifest, --output pod', args: ['pod.yaml', '--output', 'pod'], shows: 'AWS_ROLE_ARN' },
    {
      name: 'an AdmissionReview, --output patch',
      args: ['review.json', '--output', 'patch'],
      shows: 'AWS_ROLE_ARN',
    },
    { name: 'an AdmissionReview, --output review', args: ['review.json'], shows: '"patch": "W3s' },
  ])('mutate answers like dist/: $name', ({ args: [input, ...flags], shows }) => {
    const full = [
      join(examples, input!),
      ...flags,
      '--service-accounts',
      join(examples, 'service-accounts.yaml'),
    ];
    const bundled = run(bundle, ['mutate', ...full]);
    const compiled = run(join(repoRoot, 'dist', 'cli', 'main.js'), ['mutate', ...full]);
    expect(bundled.status).toBe(0);
    expect(bundled.stdout).toContain(shows);
    expect(bundled).toEqual(compiled);
  });

  it('serves Pods of the real kube-apiserver from its ServiceAccount informer', async () => {
    const dir = join(ctx.runDir, 'bundle', uniqueSuffix());
    await mkdir(dir, { recursive: true });
    const serving = await issueCertificate(dir, 'serving', ctx.webhookCa, {
      commonName: 'pod-identity-webhook',
      hosts: ['127.0.0.1'],
    });
    const loadedBuiltinsFile = join(dir, 'loaded-builtins.json');
    const { port, process: child } = await startBundle(
      'files',
      ['--port', '0', '--tls-cert', serving.cert, '--tls-key', serving.key],
      {
        preload: join(repoRoot, 'test/support/loaded-builtins.mjs'),
        env: { LOADED_BUILTINS_FILE: loadedBuiltinsFile },
      },
    );
    const namespace = await createTestNamespace('bundle');
    await registerPodIdentityWebhook({
      endpoint: { url: `https://127.0.0.1:${port}/mutate`, caBundle: caBundleOf(ctx.webhookCa.cert) },
      namespace,
    });
    await createServiceAccount(namespace.name, 'app', { roleArn: roleArn('bundle-app') });
    const pod = await createPod(namespace.name, podManifest('app', { serviceAccountName: 'app' }));
    expect(injectedRoleArn(pod)).toBe(roleArn('bundle-app'));
    const ready = await httpsRequest({ url: `https://127.0.0.1:${port}/readyz`, caFile: ctx.webhookCa.cert });
    expect(ready.status).toBe(200);
    expect(strayLines(child.output())).toEqual([]);
    // hack/bundle.mjs leaves fastify's HTTP/2 out of start-up (~16 ms of every start).
    await child.stop();
    const builtins = JSON.parse(readFileSync(loadedBuiltinsFile, 'utf8')) as string[];
    expect(builtins).toContain('https');
    expect(builtins.filter((name) => name.includes('http2'))).toEqual([]);
  });

  it('keeps its own certificates (--certificates builtin) and the caBundle current', async () => {
    const namespace = await createTestNamespace('bundle-builtin');
    const port = await freePort();
    const configuration = await createWebhookConfiguration('bundle-builtin', [
      podIdentityWebhook({ endpoint: { url: `https://127.0.0.1:${port}/mutate`, caBundle: '' }, namespace }),
    ]);
    const secret = `bundle-builtin-${uniqueSuffix()}`;
    const { process: child } = await startBundle('builtin', [
      '--port',
      String(port),
      '--certificates',
      'builtin',
      '--namespace',
      namespace.name,
      '--tls-secret',
      secret,
      '--webhook-configuration',
      configuration.metadata!.name!,
      '--certificate-hosts',
      '127.0.0.1',
    ]);
    // kube-apiserver reaches it only through the caBundle the webhook wrote itself.
    await waitUntilEffective(namespace, 60_000);
    const stored = await core.readNamespacedSecret({ name: secret, namespace: namespace.name });
    expect(Object.keys(stored.data ?? {})).toEqual(expect.arrayContaining(['tls.crt', 'tls.key']));
    const live = await admission.readMutatingWebhookConfiguration({ name: configuration.metadata!.name! });
    expect(live.webhooks?.[0]?.clientConfig.caBundle).toBeTruthy();
    expect(strayLines(child.output())).toEqual([]);
  });
});
