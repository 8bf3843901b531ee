/**
 * Failed authentications per source address (ADR 0015): each 401 takes a token from the address's
 * bucket (shared FailureLimiter); an address without tokens gets 429 + Retry-After. While it is
 * limited, only keys in the generated shape are still checked (dk_ + 40 base62, ~238 bits:
 * guessing them through the limiter is hopeless, and a valid key behind the same NAT keeps
 * working); operator-chosen secrets (node and router credentials, a bootstrap admin key of any
 * other shape) are not checked at all for a limited address, so they cannot be brute forced.
 */
import { FailureLimiter } from "@dionysia/shared";
import { Counter } from "prom-client";
import type { Deps } from "../deps.ts";

export interface AuthLimiter {
  limiter: FailureLimiter;
  failures: Counter<"reason">;
  limited: Counter;
}

const byDeps = new WeakMap<Deps, AuthLimiter>();

export function authLimiterOf(deps: Deps): AuthLimiter {
  let l = byDeps.get(deps);
  if (!l) {
    const registers = [deps.metrics.registry];
    l = {
      limiter: new FailureLimiter({
        limit: deps.config.authFailureLimit,
        windowMs: deps.config.authFailureWindowMs,
      }),
      failures: new Counter({
        name: "dionysia_control_auth_failures_total",
        help: "Refused API authentications (401), by reason",
        labelNames: ["reason"],
        registers,
      }),
      limited: new Counter({
        name: "dionysia_control_auth_rate_limited_total",
        help: "Requests refused with 429 because their address failed authentication too often",
        registers,
      }),
    };
    byDeps.set(deps, l);
  }
  return l;
}
