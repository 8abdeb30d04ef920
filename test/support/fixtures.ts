import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { expect } from 'vitest';
import type { AdmissionReviewResponse } from '../../src/admission/review.js';
import { mutationOptionsFrom, type MutationOptions } from '../../src/identity/options.js';
import { applyPatch, type Operation } from '../../src/mutation/patch.js';
import {
  ContainerCredentialsConfig,
  parseContainerCredentials,
} from '../../src/serviceaccounts/container-credentials-source.js';
import { parseManifests } from '../../src/manifests.js';
import { roleMappingFromConfigMap, type RoleMapping } from '../../src/identity/role-mapping.js';

export const FIXTURES_DIR = new URL('../fixtures/', import.meta.url).pathname;

export interface Fixture {
  name: string;
  dir: string;
  review: Record<string, unknown> & { apiVersion: string; request: { object: V1Pod; uid: string } };
  serviceAccountsFile: string;
  serviceAccounts: string;
  /** options.json as written; `{}` when the fixture has none (all defaults). */
  optionsJson: Record<string, unknown>;
  /** The mutation options, defaults filled in. */
  options: MutationOptions;
  expectedPod: V1Pod;
  /** expected-warnings.json: every warning of the review, in order; `[]` when the fixture has none. */
  expectedWarnings: string[];
  /** config-map.yaml (the `--watch-config-map` ConfigMap), when the fixture has one. */
  configMapFile?: string;
  roleMapping?: RoleMapping;
  /** container-credentials.json (`--watch-container-credentials-config`), when the fixture has one. */
  containerCredentialsFile?: string;
  containerCredentials?: ContainerCredentialsConfig;
}

const REQUIRED = ['review.json', 'service-accounts.yaml', 'expected-pod.json'];
const OPTIONAL = ['options.json', 'expected-warnings.json', 'config-map.yaml', 'container-credentials.json'];

/**
 * Every recorded case under test/fixtures/: review.json, service-accounts.yaml, expected-pod.json,
 * and when they apply options.json and expected-warnings.json. Throws, naming the fixture, for a
 * folder that breaks the conventions of test/fixtures/README.md, so a misnamed file is not ignored.
 */
export function loadFixtures(): Fixture[] {
  return readdirSync(FIXTURES_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => loadFixture(entry.name));
}

/** The named fixtures, in the order given; throws for a name that is not a fixture. */
export function fixturesNamed(...names: string[]): Fixture[] {
  return names.map((name) => {
    if (!existsSync(join(FIXTURES_DIR, name, 'review.json'))) throw new Error(`no fixture named ${name}`);
    return loadFixture(name);
  });
}

function loadFixture(name: string): Fixture {
  const dir = join(FIXTURES_DIR, name);
  const fail = (problem: string): never => {
    throw new Error(`fixture ${name}: ${problem}`);
  };
  const files = readdirSync(dir);
  for (const file of files) {
    if (!REQUIRED.includes(file) && !OPTIONAL.includes(file)) fail(`unexpected file ${file}`);
  }
  for (const file of REQUIRED) if (!files.includes(file)) fail(`${file} is missing`);
  const read = (file: string) => readFileSync(join(dir, file), 'utf8');
  const json = (file: string): unknown => {
    try {
      return JSON.parse(read(file));
    } catch (error) {
      return fail(`${file}: ${(error as Error).message}`);
    }
  };

  const optionsJson = files.includes('options.json') ? (json('options.json') as Record<string, unknown>) : {};
  if (files.includes('options.json') && Object.keys(optionsJson).length === 0) {
    fail('options.json is empty; leave it out for the defaults');
  }
  const { options, warnings: optionWarnings } = mutationOptionsFrom(optionsJson);
  // The options of a fixture are used as given: one the resolver adjusts would test the resolver.
  if (optionWarnings.length > 0) fail(`options.json is adjusted: ${optionWarnings.join('; ')}`);

  const expectedWarnings = files.includes('expected-warnings.json') ? json('expected-warnings.json') : [];
  if (!Array.isArray(expectedWarnings) || expectedWarnings.some((w) => typeof w !== 'string')) {
    fail('expected-warnings.json must be a JSON array of strings');
  }
  if (files.includes('expected-warnings.json') && (expectedWarnings as string[]).length === 0) {
    fail('expected-warnings.json is empty; leave it out when the review has no warnings');
  }

  let roleMapping: RoleMapping | undefined;
  if (files.includes('config-map.yaml')) {
    const manifests = parseManifests(read('config-map.yaml'), 'config-map.yaml');
    if (manifests.length !== 1) fail('config-map.yaml must hold one ConfigMap');
    try {
      roleMapping = roleMappingFromConfigMap(manifests[0]!, 'config-map.yaml');
    } catch (error) {
      fail((error as Error).message);
    }
  }

  let containerCredentials: ContainerCredentialsConfig | undefined;
  if (files.includes('container-credentials.json')) {
    try {
      containerCredentials = new ContainerCredentialsConfig(
        parseContainerCredentials(read('container-credentials.json'), 'container-credentials.json'),
      );
    } catch (error) {
      fail((error as Error).message);
    }
  }

  return {
    name,
    dir,
    ...(containerCredentials === undefined
      ? {}
      : { containerCredentials, containerCredentialsFile: join(dir, 'container-credentials.json') }),
    ...(roleMapping === undefined ? {} : { roleMapping, configMapFile: join(dir, 'config-map.yaml') }),
    review: json('review.json') as Fixture['review'],
    serviceAccountsFile: join(dir, 'service-accounts.yaml'),
    serviceAccounts: read('service-accounts.yaml'),
    optionsJson,
    options,
    expectedPod: json('expected-pod.json') as V1Pod,
    expectedWarnings: expectedWarnings as string[],
  };
}

/** The same options as command-line flags. */
export function optionFlags(options: Record<string, unknown>): string[] {
  // `--flag=value`: the one form every flag takes, booleans included (Go's `--flag=false`).
  return Object.entries(options).map(
    ([key, value]) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}=${String(value)}`,
  );
}

/**
 * Checks an AdmissionReview response (from the core, the server or the CLI) against everything the
 * fixture expects: its apiVersion and uid, a patch of `add` operations only that turns the Pod into
 * expected-pod.json (none at all when nothing changes), and exactly the expected warnings.
 * Returns the decoded patch.
 */
export function expectFixtureResponse(fixture: Fixture, review: AdmissionReviewResponse): Operation[] {
  const { response } = review;
  expect(review.apiVersion).toBe(fixture.review.apiVersion);
  expect(review.kind).toBe('AdmissionReview');
  expect(response.uid).toBe(fixture.review.request.uid);
  expect(response.allowed).toBe(true);
  const patch: Operation[] =
    response.patch === undefined ? [] : JSON.parse(Buffer.from(response.patch, 'base64').toString());
  expect(response.patchType).toBe(patch.length > 0 ? 'JSONPatch' : undefined);
  if (response.patch !== undefined) expect(patch).not.toEqual([]);
  expect(patch.map((op) => op.op)).toEqual(patch.map(() => 'add'));
  expect(applyPatch(fixture.review.request.object, patch)).toEqual(fixture.expectedPod);
  expect(response.warnings ?? []).toEqual(fixture.expectedWarnings);
  if (fixture.expectedWarnings.length === 0) expect(response).not.toHaveProperty('warnings');
  return patch;
}
