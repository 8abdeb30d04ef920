// The load generator, run as its own process so it does not share the server's event loop:
// keep-alive HTTPS POSTs of one AdmissionReview at a fixed concurrency for a bounded time.
// Usage: node bench/load.mjs <port> <ca-file> <review-file> <concurrency> <seconds>
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';

const [port, caFile, reviewFile, concurrency, seconds] = process.argv.slice(2);
const ca = readFileSync(caFile);
const body = readFileSync(reviewFile);
const agent = new Agent({ keepAlive: true, maxSockets: Number(concurrency), ca });
const deadline = performance.now() + Number(seconds) * 1000;
const latencies = [];
let failures = 0;

function once() {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = request(
      {
        host: '127.0.0.1',
        port: Number(port),
        path: '/mutate',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) latencies.push(performance.now() - started);
          else failures += 1;
          resolve();
        });
      },
    );
    req.on('error', () => {
      failures += 1;
      resolve();
    });
    req.end(body);
  });
}

async function worker() {
  while (performance.now() < deadline) await once();
}

const began = performance.now();
await Promise.all(Array.from({ length: Number(concurrency) }, worker));
const elapsed = (performance.now() - began) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
agent.destroy();
process.stdout.write(
  JSON.stringify({
    requests: latencies.length,
    failures,
    rps: latencies.length / elapsed,
    p50: pct(50),
    p99: pct(99),
    p999: pct(99.9),
  }),
);
