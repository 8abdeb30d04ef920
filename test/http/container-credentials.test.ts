// `serve --watch-container-credentials-config`: the file is read at startup, and a rewrite of it
// switches a ServiceAccount between IRSA and EKS Pod Identity without a restart.
import { mkdtemp, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { serve, type RunningServer } from '../../src/commands/serve.js';
import { DEFAULT_MUTATION_OPTIONS } from '../../src/identity/options.js';
import type { Operation } from '../../src/mutation/patch.js';
import { ENV } from '../../src/vocabulary.js';
import { postReview, testServeFlags } from '../support/serving.js';
import { appPod, podReview } from '../support/reviews.js';
import { testCertificates, type TestCertificates } from '../support/tls.js';
import { waitFor } from '../support/wait.js';

let certs: TestCertificates;
let running: RunningServer | undefined;
beforeAll(async () => {
  certs = await testCertificates();
});
afterEach(async () => {
  await running?.shutdown();
  running = undefined;
});

async function patchOf(port: number): Promise<Operation[]> {
  const { body } = await postReview(port, certs.ca, podReview(appPod('s3-reader')));
  const patch = (JSON.parse(body) as { response: { patch?: string } }).response.patch;
  return patch === undefined ? [] : (JSON.parse(Buffer.from(patch, 'base64').toString()) as Operation[]);
}

const envNames = (patch: Operation[]): string[] =>
  patch.flatMap((op) => {
    const value = (op as { value?: unknown }).value;
    const items = Array.isArray(value) ? value : [value];
    return items.flatMap((item) =>
      typeof item === 'object' && item !== null && 'name' in item ? [String(item.name)] : [],
    );
  });

describe('serve --watch-container-credentials-config', () => {
  it('switches default/s3-reader to EKS Pod Identity and back as the file changes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'piw-cc-serve-'));
    const file = join(dir, 'config.json');
    const write = async (identities: object[]) => {
      await writeFile(`${file}.new`, JSON.stringify({ identities }));
      await rename(`${file}.new`, file);
    };
    await write([]);
    running = await serve(
      { ...testServeFlags(certs), containerCredentialsConfig: file },
      DEFAULT_MUTATION_OPTIONS,
      { log: pino({ level: 'silent' }) },
    );
    const port = running.port;
    expect(envNames(await patchOf(port))).toContain(ENV.roleArn);

    await write([{ namespace: 'default', serviceAccount: 's3-reader' }]);
    const names = await waitFor('container credentials', async () => {
      const found = envNames(await patchOf(port));
      return found.includes(ENV.containerCredentialsFullUri) ? found : undefined;
    });
    expect(names).not.toContain(ENV.roleArn);

    await write([]);
    await waitFor('IRSA again', async () =>
      envNames(await patchOf(port)).includes(ENV.roleArn) ? true : undefined,
    );
  });
});
