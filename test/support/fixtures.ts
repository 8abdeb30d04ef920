import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { mutationOptionsFrom, type MutationOptions } from '../../src/options.js';

export const FIXTURES_DIR = new URL('../fixtures/', import.meta.url).pathname;

export interface Fixture {
  name: string;
  dir: string;
  review: Record<string, unknown> & { request: { object: V1Pod; uid: string } };
  serviceAccountsFile: string;
  serviceAccounts: string;
  optionsJson: Record<string, unknown>;
  options: MutationOptions;
  expectedPod: V1Pod;
}

/** Every recorded case under test/fixtures/: review.json, service-accounts.yaml, options.json, expected-pod.json. */
export function loadFixtures(): Fixture[] {
  return readdirSync(FIXTURES_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => {
      const dir = join(FIXTURES_DIR, entry.name);
      const read = (file: string) => readFileSync(join(dir, file), 'utf8');
      const optionsJson = existsSync(join(dir, 'options.json'))
        ? (JSON.parse(read('options.json')) as Record<string, unknown>)
        : {};
      return {
        name: entry.name,
        dir,
        review: JSON.parse(read('review.json')) as Fixture['review'],
        serviceAccountsFile: join(dir, 'service-accounts.yaml'),
        serviceAccounts: read('service-accounts.yaml'),
        optionsJson,
        options: mutationOptionsFrom(optionsJson),
        expectedPod: JSON.parse(read('expected-pod.json')) as V1Pod,
      };
    });
}

/** The same options as command-line flags. */
export function optionFlags(options: Record<string, unknown>): string[] {
  return Object.entries(options).flatMap(([key, value]) => [
    `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
    String(value),
  ]);
}
