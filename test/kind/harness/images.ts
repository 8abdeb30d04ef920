// Images the tests build for themselves (test/kind/images/<name>/) and load into the kind node, as
// kind.sh does for the webhook's: the docker of .kind/env, then `kind load docker-image`.
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { kindEnv, ok, run } from './commands.js';
import { repoRoot } from '../../support/paths.js';

const imagesDir = join(repoRoot, 'test/kind/images');

/**
 * Builds the AWS SDK client image: sdk-client.mjs bundled with @aws-sdk/credential-providers into
 * one file (no node_modules in the image), on the webhook's runtime base. Returns its tag.
 */
export async function buildSdkClientImage(): Promise<string> {
  const source = join(imagesDir, 'sdk-client');
  // Outside the repository: eslint and prettier would read a bundle left there.
  const context = await mkdtemp(join(tmpdir(), 'pod-identity-webhook-sdk-client-'));
  await build({
    entryPoints: [join(source, 'sdk-client.mjs')],
    outfile: join(context, 'sdk-client.bundle.mjs'),
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    // CommonJS parts of the SDK require() Node built-ins: give the ESM bundle Node's require.
    banner: {
      js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  await copyFile(join(source, 'Dockerfile'), join(context, 'Dockerfile'));
  const tag = 'pod-identity-webhook-sdk-client:kind';
  try {
    await loadImage(tag, context);
  } finally {
    await rm(context, { recursive: true, force: true });
  }
  return tag;
}

/** `docker build` of `context` as `tag`, then `kind load docker-image` into the cluster's node. */
async function loadImage(tag: string, context: string): Promise<void> {
  const env = kindEnv();
  const cluster = env['KIND_CLUSTER_NAME'] ?? 'pod-identity-webhook';
  ok(await run('docker', ['build', '--tag', tag, context], { env, timeoutMs: 300_000 }));
  ok(await run('kind', ['load', 'docker-image', '--name', cluster, tag], { env, timeoutMs: 300_000 }));
}
