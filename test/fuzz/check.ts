// The fuzzer's oracle: what every answer of POST /mutate must be, whatever was sent.
// - it comes, within a time bound, with status 200, 400, 413 or 415 and a JSON body;
// - a 200 is an AdmissionReview response in the request's apiVersion, with the request's uid,
//   allowed, and a patch (if any) that applies cleanly to the request's Pod with fast-json-patch
//   and keeps every field the Pod had (null counts as absent: the patch may fill it);
// - an error names itself: { statusCode: <the status>, error, message };
// - the same request answered again gives the same status and byte-identical body.
import type { FastifyInstance } from 'fastify';
import jsonpatch, { type Operation } from 'fast-json-patch';
import { POD_IDENTITY_LABEL } from '../../src/vocabulary.js';
import type { FuzzInput } from './inputs.js';

export const STATUSES: readonly number[] = [200, 400, 413, 415];
const MAX_MESSAGE = 1_000;
const RESPONSE_KEYS = new Set(['uid', 'allowed', 'patchType', 'patch', 'warnings']);

export interface Answer {
  status: number;
  contentType: string;
  body: string;
  ms: number;
}

export interface Verdict {
  answer: Answer;
  /** A 200 with a patch: the input reached the mutation. */
  patched: boolean;
  /** Empty when the answers were right. */
  problems: string[];
}

/** One answer, or a problem if none comes within `timeoutMs` (an async hang). */
async function ask(app: FastifyInstance, input: FuzzInput, timeoutMs: number): Promise<Answer | string> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
  });
  try {
    const response = await Promise.race([
      app.inject({ method: 'POST', url: input.url, headers: input.headers, payload: input.body }),
      timeout,
    ]);
    if (typeof response === 'string') return response;
    return {
      status: response.statusCode,
      contentType: String(response.headers['content-type'] ?? ''),
      body: response.body,
      ms: performance.now() - started,
    };
  } catch (error) {
    return `inject threw ${(error as Error).stack ?? String(error)}`;
  } finally {
    clearTimeout(timer);
  }
}

/** Sends `input` twice to `app` and judges both answers. */
export async function check(app: FastifyInstance, input: FuzzInput, timeoutMs: number): Promise<Verdict> {
  const first = await ask(app, input, timeoutMs);
  if (typeof first === 'string') {
    return {
      answer: { status: 0, contentType: '', body: '', ms: timeoutMs },
      patched: false,
      problems: [first],
    };
  }
  const problems = judge(input, first);
  const second = await ask(app, input, timeoutMs);
  if (typeof second === 'string') problems.push(`second time: ${second}`);
  else if (
    second.status !== first.status ||
    second.body !== first.body ||
    second.contentType !== first.contentType
  )
    problems.push(
      `not deterministic: first ${first.status} ${clip(first.body)}, then ${second.status} ${clip(second.body)}`,
    );
  const patched = first.status === 200 && first.body.includes('"patchType":"JSONPatch"');
  return { answer: first, patched, problems };
}

function judge(input: FuzzInput, answer: Answer): string[] {
  if (!STATUSES.includes(answer.status))
    return [`status ${answer.status} is not one of ${STATUSES.join(', ')}: ${clip(answer.body)}`];
  if (!answer.contentType.startsWith('application/json'))
    return [`content-type ${JSON.stringify(answer.contentType)} is not application/json`];
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    return [`the ${answer.status} body is not JSON: ${clip(answer.body)}`];
  }
  if (answer.status !== 200) return judgeError(answer.status, body);
  return judgeReview(input, body);
}

function judgeError(status: number, body: unknown): string[] {
  const error = asRecord(body);
  const problems: string[] = [];
  if (error['statusCode'] !== status)
    problems.push(`error body statusCode ${error['statusCode']} is not ${status}`);
  if (typeof error['message'] !== 'string' || error['message'] === '')
    problems.push(`error body has no message: ${clip(JSON.stringify(body))}`);
  // The message is also the log line's reason: a client must not make either as large as it likes.
  else if (error['message'].length > MAX_MESSAGE)
    problems.push(`error message has ${error['message'].length} characters: ${clip(error['message'])}`);
  if (typeof error['error'] !== 'string') problems.push('error body has no error name');
  return problems;
}

function judgeReview(input: FuzzInput, body: unknown): string[] {
  // A 200 means the server read the body as JSON; fastify drops a leading byte order mark.
  const request = (parse: () => unknown) => asRecord(asRecord(parse())['request']);
  const text = input.body.replace(/^\ufeff/, '');
  const sent = JSON.parse(text) as Record<string, unknown>;
  const review = asRecord(body);
  const response = asRecord(review['response']);
  const problems: string[] = [];
  if (review['apiVersion'] !== sent['apiVersion'])
    problems.push(`apiVersion ${JSON.stringify(review['apiVersion'])} is not the request's`);
  if (review['kind'] !== 'AdmissionReview') problems.push(`kind ${JSON.stringify(review['kind'])}`);
  if (Object.keys(review).some((key) => !['apiVersion', 'kind', 'response'].includes(key)))
    problems.push(`unexpected keys ${Object.keys(review).join(', ')}`);
  if (response['uid'] !== request(() => sent)['uid'])
    problems.push(`uid ${JSON.stringify(response['uid'])} is not the request's`);
  if (response['allowed'] !== true) problems.push('not allowed');
  const extra = Object.keys(response).filter((key) => !RESPONSE_KEYS.has(key));
  if (extra.length > 0) problems.push(`unexpected response keys ${extra.join(', ')}`);
  const warnings = response['warnings'];
  if (
    warnings !== undefined &&
    (!Array.isArray(warnings) || warnings.length === 0 || warnings.some((w) => typeof w !== 'string'))
  )
    problems.push(`warnings is not a non-empty array of strings: ${clip(JSON.stringify(warnings))}`);
  // A value of the wrong type that slipped through validation shows in the text it was put into.
  const garbled = Array.isArray(warnings)
    ? warnings.find((w) => /undefined|\[object |NaN/.test(String(w)))
    : undefined;
  if (garbled !== undefined)
    problems.push(`a warning shows a value of the wrong type: ${clip(String(garbled))}`);
  if ((response['patch'] === undefined) !== (response['patchType'] === undefined))
    problems.push('patch and patchType do not come together');
  if (response['patch'] === undefined) return problems;
  if (response['patchType'] !== 'JSONPatch')
    problems.push(`patchType ${JSON.stringify(response['patchType'])}`);
  if (typeof response['patch'] !== 'string') return [...problems, 'patch is not a string'];
  const patch = decodePatch(response['patch']);
  if (typeof patch === 'string') return [...problems, patch];
  return [...problems, ...judgePatch(patch, () => request(() => JSON.parse(text))['object'])];
}

function decodePatch(encoded: string): Operation[] | string {
  const decoded = Buffer.from(encoded, 'base64');
  if (decoded.toString('base64') !== encoded) return 'patch is not canonical base64';
  let patch: unknown;
  try {
    patch = JSON.parse(decoded.toString('utf8'));
  } catch {
    return 'patch is not JSON';
  }
  if (!Array.isArray(patch) || patch.length === 0)
    return `patch is not a non-empty array: ${clip(JSON.stringify(patch))}`;
  return patch as Operation[];
}

/** `pod()` parses the Pod afresh, so the original and the patched copy share nothing. */
function judgePatch(patch: Operation[], pod: () => unknown): string[] {
  const original = pod();
  // The one value the webhook overwrites, as the Go webhook does: its own EKS Pod Identity label.
  const labels = asRecord(asRecord(asRecord(original)['metadata'])['labels']);
  delete labels[POD_IDENTITY_LABEL];
  const target = pod();
  const problems = patch
    .filter((operation) => operation.op !== 'add' && operation.op !== 'replace')
    .map((operation) => `patch has a ${operation.op} operation at ${operation.path}`);
  let patched: unknown;
  try {
    patched = jsonpatch.applyPatch(target, patch, true, true).newDocument;
  } catch (error) {
    return [...problems, `patch does not apply: ${(error as Error).message.split('\n')[0]}`];
  }
  const lost = firstLoss(original, patched);
  if (lost !== undefined) problems.push(`the patch changes or drops ${lost}`);
  return problems;
}

/**
 * The first path (JSON pointer) where `patched` no longer holds what `original` did: objects may
 * gain keys, arrays may gain items at the end, null may become anything. Iterative: Pods may be a
 * million levels deep.
 */
export function firstLoss(original: unknown, patched: unknown): string | undefined {
  const stack: [unknown, unknown, string][] = [[original, patched, '']];
  while (stack.length > 0) {
    const [was, now, path] = stack.pop()!;
    if (was === null) continue;
    if (typeof was !== 'object') {
      if (!Object.is(was, now)) return path || '/';
      continue;
    }
    if (typeof now !== 'object' || now === null || Array.isArray(was) !== Array.isArray(now))
      return path || '/';
    if (Array.isArray(was)) {
      const after = now as unknown[];
      if (after.length < was.length) return path || '/';
      was.forEach((item, i) => stack.push([item, after[i], `${path}/${i}`]));
      continue;
    }
    for (const key of Object.keys(was)) {
      if (!Object.hasOwn(now, key)) return `${path}/${key}`;
      stack.push([
        (was as Record<string, unknown>)[key],
        (now as Record<string, unknown>)[key],
        `${path}/${key}`,
      ]);
    }
  }
  return undefined;
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

const clip = (text: string, max = 300): string =>
  text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
