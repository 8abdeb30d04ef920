// `npm run soak -- [--duration 60s] [--rate 1000] [--connections 8] [--service-accounts 2000]
// [--cli dist/cli/main.js] [vitest flags...]`: runs vitest's `soak` project (test/soak) with these settings in its
// environment. Durations are Go-style (90s, 10m, 1h30m, 500ms); anything else goes to vitest, e.g.
// `--reporter=default --reporter=json --outputFile=soak.json`.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function duration(text) {
  const parts = [...String(text).matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text)
    throw new Error(`--duration must be a duration such as 60s, 10m or 1h30m, got ${JSON.stringify(text)}`);
  return parts.reduce((sum, [, value, unit]) => sum + Number(value) * UNITS[unit], 0);
}

function count(flag, text) {
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(String(text)) || value <= 0)
    throw new Error(`${flag} must be a positive number, got ${JSON.stringify(text)}`);
  return String(value);
}

const FLAGS = {
  '--duration': ['SOAK_DURATION_MS', (text) => String(duration(text))],
  '--rate': ['SOAK_RATE', (text) => count('--rate', text)],
  '--connections': ['SOAK_CONNECTIONS', (text) => count('--connections', text)],
  '--service-accounts': ['SOAK_SERVICE_ACCOUNTS', (text) => count('--service-accounts', text)],
  // The CLI the webhook runs: the image's dist/bundle/cli.mjs with its Node flags (default), or dist/cli/main.js.
  '--cli': ['SOAK_CLI', (text) => resolve(text)],
};

const env = { ...process.env };
const passed = [];
const args = process.argv.slice(2);
try {
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    const known = FLAGS[flag];
    if (!known) {
      passed.push(args[i]);
      continue;
    }
    const value = inline ?? args[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    env[known[0]] = known[1](value);
  }
  if (Number(env.SOAK_DURATION_MS ?? 60_000) < 30_000) throw new Error('--duration must be at least 30s');
} catch (error) {
  console.error(`soak: ${error.message}`);
  process.exit(2);
}

const vitest = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));
const child = spawn(process.execPath, [vitest, 'run', '--project', 'soak', ...passed], {
  env,
  stdio: 'inherit',
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
