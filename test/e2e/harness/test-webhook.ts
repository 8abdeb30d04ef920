// A second mutating webhook served from the test process: it adds a container to every Pod that
// does not have it yet. Used to show reinvocation (`reinvocationPolicy: IfNeeded`) of ours.
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { caBundleOf, cluster, deferCleanup, uniqueSuffix, type WebhookEndpoint } from './cluster.js';
import { issueCertificate } from '../../../scripts/pki.mjs';

export interface AdmissionReview {
  apiVersion: string;
  kind: 'AdmissionReview';
  request?: {
    uid: string;
    name?: string;
    namespace?: string;
    operation: string;
    dryRun?: boolean;
    object?: V1Pod;
  };
  response?: {
    uid: string;
    allowed: boolean;
    patchType?: 'JSONPatch';
    patch?: string;
    warnings?: string[];
  };
}

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
        const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as AdmissionReview;
        reviews.push(review);
        const request = review.request;
        if (!request) {
          res.writeHead(400).end('no request');
          return;
        }
        const containers = request.object?.spec?.containers ?? [];
        const patch = containers.some((c) => c.name === added.name)
          ? undefined
          : Buffer.from(JSON.stringify([{ op: 'add', path: '/spec/containers/-', value: added }])).toString(
              'base64',
            );
        const response: AdmissionReview = {
          apiVersion: review.apiVersion,
          kind: 'AdmissionReview',
          response: { uid: request.uid, allowed: true, ...(patch ? { patchType: 'JSONPatch', patch } : {}) },
        };
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
