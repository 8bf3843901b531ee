/**
 * Children die with the origin, even on SIGKILL (ADR 0036). Bun has no parent-death option, so on
 * Linux every long-lived child is started through util-linux `setpriv --pdeathsig KILL --`, which
 * sets PR_SET_PDEATHSIG and execs the real command (same pid, same argv in /proc). Elsewhere, or
 * without setpriv, the command runs as is and the start-up sweep (orphans.ts) is the safety net.
 */

const SETPRIV = process.platform === "linux" ? Bun.which("setpriv") : null;

/** Whether children are started with a parent-death signal on this host. */
export const childrenDieWithParent = SETPRIV !== null;

/** `[cmd, args]` to spawn so the child is killed when this process dies. */
export function dieWithParent(cmd: string, args: readonly string[]): [string, string[]] {
  if (!SETPRIV) return [cmd, [...args]];
  return [SETPRIV, ["--pdeathsig", "KILL", "--", cmd, ...args]];
}
