// Every recorded AdmissionReview through the core (admit + pure mutation, file-backed ServiceAccounts).
import { describe, expect, it } from 'vitest';
import { admit } from '../../src/admission/admit.js';
import { parseReview } from '../../src/admission/review.js';
import { FileServiceAccountSource } from '../../src/identity/file-source.js';
import { applyPatch } from '../../src/mutation/patch.js';
import { loadFixtures } from '../support/fixtures.js';

const fixtures = loadFixtures();

/** Cases whose point is a warning: what the user is told instead of a silent no-op. */
const WARNINGS: Record<string, RegExp[]> = {
  'typo-role-annotation': [
    /"eks.amazon.com\/role-arn" is ignored; did you mean "eks.amazonaws.com\/role-arn"/,
  ],
  'missing-service-account': [/ServiceAccount .+ not found; Pod not mutated/],
  'token-expiration-minimum': [/token-expiration 100 is below the minimum; raised to 600/],
  'token-expiration-not-numeric': [/Pod annotation token-expiration "1h" is not a whole number/],
  'role-arn-only-in-container': [/already sets AWS_ROLE_ARN alone/],
  'token-expiration-not-numeric-sa': [
    /ServiceAccount annotation token-expiration "12h" is not a whole number/,
  ],
  'custom-annotation-prefix': [
    /"eks.amazonaws.com\/role-arn" is ignored; did you mean "iam.example.com\/role-arn"/,
    /"eks.amazonaws.com\/token-expiration" is ignored; did you mean "iam.example.com\/token-expiration"/,
  ],
};

describe('fixtures through the core', () => {
  it('has the recorded cases', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(30);
  });

  it.each(fixtures.map((f) => [f.name, f] as const))('%s', async (_name, fixture) => {
    const source = FileServiceAccountSource.fromText(fixture.serviceAccounts, fixture.serviceAccountsFile);
    const review = parseReview(fixture.review);
    const result = await admit(review, { source, options: fixture.options });
    expect(result.response.apiVersion).toBe(fixture.review['apiVersion']);
    expect(result.response.response.uid).toBe(fixture.review.request.uid);
    expect(applyPatch(fixture.review.request.object, result.patch)).toEqual(fixture.expectedPod);
    for (const op of result.patch) expect(op.op).toBe('add');
    expect(result.response.response.warnings ?? []).toEqual(
      (WARNINGS[fixture.name] ?? []).map((w) => expect.stringMatching(w)),
    );

    const again = await admit(
      parseReview({ ...fixture.review, request: { ...fixture.review.request, object: fixture.expectedPod } }),
      {
        source,
        options: fixture.options,
      },
    );
    expect(again.patch).toEqual([]);
    expect(again.response.response.patch).toBeUndefined();
  });
});
