// The soak's settings, from the environment `npm run soak` (test/soak/run.mjs) sets from its flags.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/paths.js';

export interface SoakSettings {
  durationMs: number;
  rate: number;
  connections: number;
  /** ServiceAccounts that never change (the churned ones come on top). */
  serviceAccounts: number;
  serviceAccountChangesPerSecond: number;
  /** The CLI the webhook runs (`--cli`): the image's bundle unless given. */
  cli: string;
  /** For the test's name: "60 s at 1000 req/s". */
  label: string;
}

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got ${JSON.stringify(text)}`);
  return value;
}

export function soakSettings(env: NodeJS.ProcessEnv): SoakSettings {
  const durationMs = positive(env, 'SOAK_DURATION_MS', 60_000);
  if (durationMs < 30_000)
    throw new Error(`SOAK_DURATION_MS must be at least 30000 (30 s), got ${durationMs}`);
  const rate = positive(env, 'SOAK_RATE', 1000);
  return {
    durationMs,
    rate,
    connections: Math.round(positive(env, 'SOAK_CONNECTIONS', 64)),
    serviceAccounts: Math.round(positive(env, 'SOAK_SERVICE_ACCOUNTS', 2000)),
    serviceAccountChangesPerSecond: positive(env, 'SOAK_SERVICE_ACCOUNT_CHANGES', 10),
    // What the image runs: the bundle (`npm run soak` builds it), with the image's Node flags.
    cli: existing(env['SOAK_CLI'] || join(repoRoot, 'dist/bundle/cli.mjs')),
    label: `${durationMs / 1000} s at ${rate} req/s`,
  };
}

function existing(cli: string): string {
  if (!existsSync(cli))
    throw new Error(
      `the webhook CLI ${cli} does not exist: run \`npm run build\` (or \`npm run bundle\`) first`,
    );
  return cli;
}
