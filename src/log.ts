import { pino, type Logger, type LevelWithSilent } from 'pino';

export const LOG_LEVELS: LevelWithSilent[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/**
 * JSON lines on stdout. Reviews are logged by summary only: never a Pod body, token or key.
 *
 * Written synchronously, one write(2) per line, as the Go webhook's klog writes: pino's default
 * (asynchronous) destination hands each line to a libuv threadpool thread and back, which costs the
 * event loop more per review than the write itself, and a line logged just before the process is
 * killed is kept.
 */
export function createLogger(level: LevelWithSilent = 'info'): Logger {
  return pino(
    { level, base: { service: 'pod-identity-webhook' } },
    pino.destination({ dest: 1, sync: true }),
  );
}
