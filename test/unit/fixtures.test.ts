// Every recorded AdmissionReview through the core (admit + pure mutation, file-backed ServiceAccounts).
// A fixture folder holds all its expectations: the mutated Pod and, when there are any, the warnings.
import { describe, expect, it } from 'vitest';
import { admit } from '../../src/admission/admit.js';
import { parseReview } from '../../src/admission/review.js';
import { FileServiceAccountSource } from '../../src/serviceaccounts/file-source.js';
import { expectFixtureResponse, loadFixtures } from '../support/fixtures.js';

const fixtures = loadFixtures();

describe('fixtures through the core', () => {
  it('has the recorded cases, some of them with warnings', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(30);
    expect(fixtures.filter((f) => f.expectedWarnings.length > 0).length).toBeGreaterThan(0);
  });

  it.each(fixtures.map((f) => [f.name, f] as const))('%s', async (_name, fixture) => {
    const source = FileServiceAccountSource.fromText(fixture.serviceAccounts, fixture.serviceAccountsFile);
    const { roleMapping, containerCredentials } = fixture;
    const dependencies = { source, options: fixture.options, roleMapping, containerCredentials };
    const result = await admit(parseReview(fixture.review), dependencies);

    const patch = expectFixtureResponse(fixture, result.response);
    expect(result.patch).toEqual(patch);
    expect(result.outcome).toBe(patch.length > 0 ? 'mutated' : 'unchanged');
    expect(result.warnings).toEqual(fixture.expectedWarnings);

    const again = await admit(
      parseReview({ ...fixture.review, request: { ...fixture.review.request, object: fixture.expectedPod } }),
      dependencies,
    );
    expect(again.patch).toEqual([]);
    expect(again.outcome).toBe('unchanged');
    expect(again.response.response.patch).toBeUndefined();
  });
});
