/** Waiting on conditions with a deadline: tests never sleep-and-hope. */

/**
 * Polls `cond` until it returns a truthy value and returns it; throws after `timeoutMs` naming
 * `what` (and the probe's last error). `what` comes first so that an argument in the wrong place
 * is a type error, not a silently different timeout.
 */
export async function waitFor<T>(
  what: string,
  cond: () => T | Promise<T>,
  timeoutMs = 15_000,
  intervalMs = 100,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= deadline) {
      const why = lastErr ? ` (last error: ${(lastErr as Error).message ?? lastErr})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The response when `url` answers 2xx within 2 s, else undefined (never throws). */
export async function httpOk(url: string, init?: RequestInit): Promise<Response | undefined> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
    if (res.ok) return res;
    await res.body?.cancel();
    return undefined;
  } catch {
    return undefined;
  }
}

/** True while a process with this pid exists. */
export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
