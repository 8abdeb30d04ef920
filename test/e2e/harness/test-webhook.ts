// A second mutating webhook served from the test process: it adds a container to every Pod that
// does not have it yet. Used to show reinvocation (`reinvocationPolicy: IfNeeded`) of ours.
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { cluster, deferCleanup, uniqueSuffix } from './clients.js';
import { caBundleOf, type WebhookEndpoint } from './registration.js';
import { issueCertificate } from '../../../scripts/pki.mjs';
import { parseReview, reviewResponse, type AdmissionReview } from '../../../src/admission/review.js';

export interface ContainerAddingWebhook extends WebhookEndpoint {
  /** Every AdmissionReview received, in order. */
  reviews: AdmissionReview[];
  close(): Promise<void>;
}

export async function startContainerAddingWebhook(added: V1Container): Promise<ContainerAddingWebhook> {
  const { ctx } = cluster();
  const dir = join(ctx.runDir, 'webhooks', `container-adder-${uniqueSuffix()}`);
  const serving = await issueCertificate(dir, 'serving', ctx.webhookCa, {
    commonName: 'container-adder',
    hosts: ['127.0.0.1'],
  });
  const reviews: AdmissionReview[] = [];
  const server: Server = createServer(
    { cert: await readFile(serving.cert), key: await readFile(serving.key) },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        let review: AdmissionReview;
        try {
          review = parseReview(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (error) {
          res.writeHead(400).end((error as Error).message);
          return;
        }
        reviews.push(review);
        const pod = review.request.object as V1Pod | undefined;
        const has = (pod?.spec?.containers ?? []).some((c) => c.name === added.name);
        const patch = has ? [] : [{ op: 'add', path: '/spec/containers/-', value: added }];
        const response = reviewResponse(review.apiVersion, review.request.uid, patch, []);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(response));
      });
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('test webhook has no port');
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  deferCleanup(close);
  return {
    url: `https://127.0.0.1:${address.port}/add-container`,
    caBundle: caBundleOf(ctx.webhookCa.cert),
    reviews,
    close,
  };
}
