// A few recorded AdmissionReviews through the HTTPS server, as kube-apiserver would send them. Every
// fixture goes through the core in test/unit/fixtures.test.ts; these show the server adds nothing
// and loses nothing: an old review version, warnings with and without a patch, options, Windows.
import request from 'supertest';
import { beforeAll, describe, it } from 'vitest';
import type { AdmissionReviewResponse } from '../../src/admission/review.js';
import { testApp } from '../support/app.js';
import { expectFixtureResponse, fixturesNamed } from '../support/fixtures.js';
import { testCertificates, type TestCertificates } from '../support/tls.js';

const REPRESENTATIVE = fixturesNamed(
  'v1beta1-review',
  'missing-service-account',
  'role-arn-only-in-container',
  'custom-annotation-prefix',
  'windows-node-affinity',
);

let certs: TestCertificates;
beforeAll(async () => {
  certs = await testCertificates();
});

describe('fixtures over HTTPS', () => {
  it.each(REPRESENTATIVE.map((f) => [f.name, f] as const))('%s', async (_name, fixture) => {
    const { app } = await testApp(certs, fixture.serviceAccounts, fixture.options);
    try {
      const { body } = await request(app.server)
        .post('/mutate')
        .ca(certs.ca)
        .send(fixture.review)
        .expect(200)
        .expect('content-type', /^application\/json/);
      expectFixtureResponse(fixture, body as AdmissionReviewResponse);
    } finally {
      await app.close();
    }
  });
});
