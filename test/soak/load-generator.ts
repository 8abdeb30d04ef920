// The soak's load generator, a process of its own (node runs this file directly, types stripped) so
// the load does not share the test's event loop. Open loop: requests go out on a fixed timeline
// (`rate` per second) whatever the answers do, over up to `connections` keep-alive HTTPS
// connections. One request in every `connectionMaxAgeMs / connections open` says
// `Connection: close`, so a connection lasts about `connectionMaxAgeMs` and new serving
// certificates get used: closed by the request itself, never under a request in flight. Each answer
// is classified here (which state of the ServiceAccount it shows) and sent to the parent in batches;
// the parent, which keeps the ServiceAccounts' timeline, judges it.
import { Agent, request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { GeneratorConfig, GeneratorMessage, ParentMessage, Sample } from './protocol.js';

const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const send = (message: GeneratorMessage): void => void process.send?.(message);

function start(config: GeneratorConfig): void {
  const agent = new Agent({
    keepAlive: true,
    maxSockets: config.connections,
    scheduling: 'fifo',
    ca: config.ca,
  });
  const serialsSeen = new Set<string>();
  const counted = new WeakSet<object>();

  let random = config.seed >>> 0 || 1;
  const next = (): number => {
    // xorshift32: a reproducible mix of targets and Pod shapes for a given seed.
    random ^= random << 13;
    random ^= random >>> 17;
    random ^= random << 5;
    return (random >>> 0) / 2 ** 32;
  };
  const pick = (): number =>
    next() < config.dynamicShare
      ? config.dynamicTargets[Math.floor(next() * config.dynamicTargets.length)]!
      : config.staticTargets[Math.floor(next() * config.staticTargets.length)]!;

  // One request in every connectionMaxAgeMs / (connections open now) closes its connection.
  let open = 0;
  let lastClose = now();
  let batch: Sample[] = [];
  let sequence = 0;
  let inFlight = 0;
  let connectionsOpened = 0;
  const flush = (): void => {
    if (batch.length > 0) send({ type: 'samples', samples: batch });
    batch = [];
  };
  const flushTimer = setInterval(flush, 250);

  function fire(scheduledAt: number): void {
    const target = pick();
    const shape = Math.floor(next() * config.shapes.length);
    const { namespace, name } = config.targets[target]!;
    const uid = `soak-${process.pid}-${sequence++}`;
    const body = config.shapes[shape]!.template.replaceAll('__UID__', uid)
      .replaceAll('__NAMESPACE__', namespace)
      .replaceAll('__SERVICE_ACCOUNT__', name);
    let written = false;
    let writtenAt: number | undefined;
    let settled = false;
    const sentAt = now();
    const close = open > 0 && sentAt - lastClose >= config.connectionMaxAgeMs / open;
    if (close) lastClose = sentAt;
    inFlight += 1;
    const done = (
      sample: Omit<Sample, 'target' | 'shape' | 'scheduledAt' | 'sentAt' | 'writtenAt' | 'doneAt'>,
    ): void => {
      if (settled) return;
      settled = true;
      inFlight -= 1;
      batch.push({ target, shape, scheduledAt, sentAt, writtenAt, doneAt: now(), ...sample });
    };
    const req = request(
      {
        host: '127.0.0.1',
        port: config.port,
        path: '/mutate?timeout=10s',
        method: 'POST',
        agent,
        timeout: 10_000,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(close && { connection: 'close' }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error) => done({ outcome: 'error', written, detail: error.message }));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          done(classify(res.statusCode ?? 0, text, uid, shape, namespace, name));
        });
      },
    );
    req.on('socket', (socket) => {
      // Once per connection: a socket can reach more than one request before its handshake ends.
      if (req.reusedSocket || counted.has(socket)) return;
      counted.add(socket);
      socket.once('secureConnect', () => {
        connectionsOpened += 1;
        open += 1;
        socket.once('close', () => (open -= 1));
        const serial = (socket as TLSSocket).getPeerCertificate().serialNumber;
        if (serial && !serialsSeen.has(serial)) {
          serialsSeen.add(serial);
          send({ type: 'serial', serial, at: now() });
        }
      });
    });
    req.on('finish', () => {
      written = true;
      writtenAt = now();
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', (error: NodeJS.ErrnoException) =>
      done({ outcome: 'error', written, detail: `${error.code ?? ''} ${error.message}`.trim() }),
    );
    req.end(body);
  }

  function classify(
    status: number,
    text: string,
    uid: string,
    shape: number,
    namespace: string,
    name: string,
  ): Pick<Sample, 'outcome' | 'written' | 'detail' | 'state'> {
    const written = true;
    if (status !== 200) {
      const message = parseMessage(text);
      if (status === 500 && /could not be looked up|took longer than/.test(message))
        return { outcome: 'lookup-error', written, detail: message };
      return { outcome: `http-${status}`, written, detail: message || text.slice(0, 300) };
    }
    let response: { uid?: unknown; allowed?: unknown; patch?: unknown; warnings?: unknown } | undefined;
    try {
      response = (JSON.parse(text) as { response?: typeof response }).response;
    } catch {
      return { outcome: 'unexpected', written, detail: `not JSON: ${text.slice(0, 200)}` };
    }
    if (response?.uid !== uid || response.allowed !== true)
      return { outcome: 'unexpected', written, detail: `uid or allowed wrong: ${text.slice(0, 300)}` };
    const warnings = Array.isArray(response.warnings) ? (response.warnings as string[]) : [];
    const patch = typeof response.patch === 'string' ? response.patch : null;
    const state = config.shapes[shape]!.answers[JSON.stringify([patch, warnings])];
    if (state !== undefined) return { outcome: 'state', written, state };
    const absent = config.absentWarning
      .replaceAll('__NAMESPACE__', namespace)
      .replaceAll('__SERVICE_ACCOUNT__', name);
    if (patch === null && warnings.length === 1 && warnings[0] === absent)
      return { outcome: 'state', written, state: 'absent' };
    return {
      outcome: 'unexpected',
      written,
      detail: `no known answer: patch ${patch === null ? 'none' : Buffer.from(patch, 'base64').toString().slice(0, 3000)}, warnings ${JSON.stringify(warnings)}`,
    };
  }

  // Open loop: on each tick, every request whose time has come goes out; latency runs from that time.
  const interval = 1000 / config.rate;
  const began = now();
  let fired = 0;
  let stopped = false;
  const tick = (): void => {
    if (stopped) return;
    const t = now();
    for (; began + fired * interval <= t; fired++) fire(began + fired * interval);
    setTimeout(tick, Math.max(0, Math.min(5, began + fired * interval - now())));
  };
  tick();

  process.on('message', (message: ParentMessage) => {
    if (message.type !== 'stop') return;
    stopped = true;
    const finish = (): void => {
      clearInterval(flushTimer);
      flush();
      agent.destroy();
      send({ type: 'done', fired, unanswered: inFlight, connectionsOpened });
      process.disconnect?.();
    };
    // What is in flight gets its answer (or its 10 s timeout) before the count is final.
    const deadline = now() + 11_000;
    const wait = (): void => void (inFlight === 0 || now() > deadline ? finish() : setTimeout(wait, 20));
    wait();
  });
}

function parseMessage(text: string): string {
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    return typeof message === 'string' ? message : '';
  } catch {
    return '';
  }
}

process.once('message', (message: ParentMessage) => {
  if (message.type === 'start') start(message.config);
});
send({ type: 'listening' });
