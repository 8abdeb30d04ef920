// Polling on conditions (never fixed sleeps): retry a probe until it yields a value or time runs out.
import { setTimeout as delay } from 'node:timers/promises';

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Returns a reason to give up at once (e.g. the process being waited for has exited). */
  abortIf?: () => string | undefined;
  /** Extra text for the timeout error (e.g. where the logs are). */
  hint?: () => string;
}

/**
 * Calls `probe` until it returns something other than `undefined`, and returns that. A probe that
 * throws counts as "not yet"; the last error is part of the timeout message.
 */
export async function waitFor<T>(
  description: string,
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 30_000, intervalMs = 200, abortIf, hint }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (let attempt = 1; ; attempt++) {
    const reason = abortIf?.();
    if (reason !== undefined)
      throw new Error(`gave up waiting for ${description}: ${reason}${hintText(hint)}`);
    try {
      const value = await probe();
      if (value !== undefined) return value;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const last = lastError === undefined ? '' : `; last error: ${describeError(lastError)}`;
      throw new Error(
        `timed out after ${timeoutMs} ms (${attempt} attempts) waiting for ${description}${last}${hintText(hint)}`,
      );
    }
    await delay(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

function hintText(hint: (() => string) | undefined): string {
  const text = hint?.();
  return text ? `\n${text}` : '';
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const body = (error as Error & { body?: unknown }).body;
    const code = (error as Error & { code?: unknown }).code;
    const extra = body === undefined ? '' : ` ${typeof body === 'string' ? body : JSON.stringify(body)}`;
    return `${code === undefined ? '' : `[${String(code)}] `}${error.message.split('\n')[0]}${extra}`.slice(
      0,
      2000,
    );
  }
  return String(error);
}
