// Every recorded AdmissionReview through the HTTPS server, as kube-apiserver would send it.
import request from 'supertest';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyPatch, type Operation } from '../../src/mutation/patch.js';
import { testApp } from '../support/app.js';
import { loadFixtures } from '../support/fixtures.js';
import { testCertificates, type TestCertificates } from '../support/tls.js';

let certs: TestCertificates;
beforeAll(async () => {
  certs = await testCertificates();
});

describe('fixtures over HTTPS', () => {
  it.each(loadFixtures().map((f) => [f.name, f] as const))('%s', async (_name, fixture) => {
    const { app } = await testApp(certs, fixture.serviceAccounts, fixture.options);
    try {
      const { body } = await request(app.server)
        .post('/mutate')
        .ca(certs.ca)
        .send(fixture.review)
        .expect(200);
      expect(body.apiVersion).toBe(fixture.review['apiVersion']);
      expect(body.response.uid).toBe(fixture.review.request.uid);
      const patch: Operation[] = body.response.patch
        ? JSON.parse(Buffer.from(body.response.patch, 'base64').toString())
        : [];
      expect(applyPatch(fixture.review.request.object, patch)).toEqual(fixture.expectedPod);
    } finally {
      await app.close();
    }
  });
});
