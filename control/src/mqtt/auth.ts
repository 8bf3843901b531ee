/**
 * Who may connect to the embedded broker: verifies a CONNECT's user name and password against
 * the configured credentials and returns the identity whose permissions apply (shared
 * mqtt-auth.ts). Pure apart from the constant-time comparison; never logs a secret.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { identityOf, type MqttIdentity, nodePassword, ROLE_USERNAMES, randomBase62 } from "@dionysia/shared";

export interface BrokerCredentials {
  /** Node enrolment secrets: the current one first, then one still accepted during a rotation. */
  nodeSecrets: readonly string[];
  /** Node ids refused whatever their password (a lost or compromised host, until rotation). */
  revokedNodes?: ReadonlySet<string> | undefined;
  routerPassword?: string | undefined;
  dashboardPassword?: string | undefined;
  /** Control's own credential on its embedded broker (random per process, never leaves it). */
  control: { username: string; password: string };
}

export type AuthRefusal = "anonymous" | "unknown_user" | "bad_password" | "role_disabled" | "revoked";

export type AuthResult = { ok: true; identity: MqttIdentity } | { ok: false; reason: AuthRefusal };

/** Control's in-process credential for its own embedded broker. */
export function newControlCredential(): { username: string; password: string } {
  return { username: ROLE_USERNAMES.control, password: randomBase62(40) };
}

function digest(s: string | Buffer): Buffer {
  return createHash("sha256").update(s).digest();
}

/** Constant time whatever the lengths (both sides hashed first). */
function same(presented: Buffer, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

export function verifyCredentials(
  c: BrokerCredentials,
  username: string | undefined,
  password: Buffer | undefined,
): AuthResult {
  if (username === undefined || username === "" || password === undefined)
    return { ok: false, reason: "anonymous" };
  const identity = identityOf(username);
  if (!identity) return { ok: false, reason: "unknown_user" };
  let expected: readonly string[];
  switch (identity.role) {
    case "node":
      if (c.revokedNodes?.has(identity.nodeId as string)) return { ok: false, reason: "revoked" };
      expected = c.nodeSecrets.map((s) => nodePassword(s, identity.nodeId as string));
      break;
    case "control":
      // Only the in-process user: an instance suffix is for external brokers.
      if (username !== c.control.username) return { ok: false, reason: "unknown_user" };
      expected = [c.control.password];
      break;
    case "router":
      expected = c.routerPassword ? [c.routerPassword] : [];
      break;
    case "dashboard":
      expected = c.dashboardPassword ? [c.dashboardPassword] : [];
      break;
  }
  if (expected.length === 0) return { ok: false, reason: "role_disabled" };
  // Every candidate is compared, so timing does not tell which secret matched.
  let ok = false;
  for (const e of expected) ok = same(password, e) || ok;
  return ok ? { ok: true, identity } : { ok: false, reason: "bad_password" };
}
