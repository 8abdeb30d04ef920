// The load generator, run as its own process (on its own core) so it does not share the server's
// event loop: keep-alive HTTPS POSTs of one AdmissionReview over a fixed set of connections, opened
// before the clock starts.
//   closed: every connection sends its next request when the previous answer arrives.
//   open:   requests go out on a fixed timeline (`rate` per second) whatever the answers do; a
//           request waits for a free connection if none is, and its latency runs from its
//           scheduled time, so a stall counts for every request it delays (no coordinated omission).
// Usage: node bench/load.mjs '<json: {port, ca, body, mode, connections, seconds, rate, samples?}>'
// Prints one JSON line: requests, failures, rps, p50/p99/p999/max in ms. `samples` names a file
// for every request's scheduled time and latency (ms since start), to line up with GC traces.
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';

const config = JSON.parse(process.argv[2]);
const body = readFileSync(config.body);
const agent = new Agent({ keepAlive: true, maxSockets: config.connections, ca: readFileSync(config.ca) });
const options = {
  host: '127.0.0.1',
  port: config.port,
  path: '/mutate?timeout=10s',
  method: 'POST',
  agent,
  headers: { 'content-type': 'application/json', 'content-length': body.length },
};
let failures = 0;
let firstFailure;

/** Resolves with the time the whole answer arrived, or undefined for a failure. */
function send() {
  return new Promise((resolve) => {
    const fail = (reason) => {
      failures += 1;
      firstFailure ??= reason;
      resolve(undefined);
    };
    const req = request(options, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200 ? resolve(performance.now()) : fail(`HTTP ${res.statusCode}`),
      );
      res.on('error', (error) => fail(error.message));
    });
    req.on('error', (error) => fail(error.message));
    req.end(body);
  });
}

// Every connection open (TLS handshake done) before measuring.
await Promise.all(Array.from({ length: config.connections }, send));
failures = 0;
firstFailure = undefined;

const durationMs = config.seconds * 1000;
const capacity = config.mode === 'open' ? Math.ceil(config.rate * config.seconds) : 1 << 22;
const latencies = new Float64Array(capacity);
const scheduled = config.samples ? new Float64Array(capacity) : undefined;
let count = 0;
const began = performance.now();
const record = (at, done) => {
  if (done === undefined || count >= capacity) return;
  if (scheduled) scheduled[count] = at - began;
  latencies[count++] = done - at;
};

if (config.mode === 'open') {
  const interval = 1000 / config.rate;
  const pending = [];
  let sent = 0;
  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      for (; sent < capacity && began + sent * interval <= now; sent++) {
        const at = began + sent * interval;
        pending.push(send().then((done) => record(at, done)));
      }
      if (sent >= capacity) return resolve();
      // Timers fire up to a millisecond late, which would count against every server alike: the
      // last stretch before a send is spent polling (this process has a core to itself).
      const wait = began + sent * interval - performance.now();
      if (wait > 2) setTimeout(tick, wait - 1.5);
      else setImmediate(tick);
    };
    tick();
  });
  await Promise.all(pending);
} else {
  const deadline = began + durationMs;
  const worker = async () => {
    while (performance.now() < deadline) {
      const at = performance.now();
      record(at, await send());
    }
  };
  await Promise.all(Array.from({ length: config.connections }, worker));
}
const elapsed = (performance.now() - began) / 1000;
agent.destroy();

if (scheduled) {
  const lines = Array.from(
    { length: count },
    (_, i) => `${scheduled[i].toFixed(3)} ${latencies[i].toFixed(3)}`,
  );
  writeFileSync(config.samples, `${lines.join('\n')}\n`);
}
const sorted = latencies.subarray(0, count).sort();
const pct = (p) => (count === 0 ? NaN : sorted[Math.min(count - 1, Math.ceil((p / 100) * count) - 1)]);
process.stdout.write(
  JSON.stringify({
    requests: count,
    failures,
    ...(firstFailure && { firstFailure }),
    rps: count / (config.mode === 'open' ? config.seconds : elapsed),
    p50: pct(50),
    p99: pct(99),
    p999: pct(99.9),
    max: count === 0 ? NaN : sorted[count - 1],
  }),
);
