// Where hack/kind/offline.sh keeps the cluster's state (.kind/: ready, env, kubeconfig), and the
// environment its env file sets: docker, kind and kubectl are run with it.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../support/paths.js';

export const kindDir = process.env.POD_IDENTITY_WEBHOOK_KIND_DIR ?? join(repoRoot, '.kind');

function environmentOf(script: string): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      ['-c', script, 'env-of', join(kindDir, 'env')],
      { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`reading ${join(kindDir, 'env')}: ${stderr || error.message}`));
        else
          resolve(
            new Map(
              stdout
                .split('\0')
                .filter((entry) => entry.includes('='))
                .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
            ),
          );
      },
    );
  });
}

/** The variables .kind/env sets or changes, by sourcing it in a clean bash. */
export async function readKindEnv(): Promise<Record<string, string>> {
  const file = join(kindDir, 'env');
  if (!existsSync(file))
    throw new Error(`${file} does not exist: is the kind cluster up (hack/kind/offline.sh up)?`);
  const before = await environmentOf('env -0');
  const after = await environmentOf('set -a; . "$1"; env -0');
  const changed: Record<string, string> = {};
  for (const [name, value] of after) if (before.get(name) !== value && name !== '_') changed[name] = value;
  return changed;
}
