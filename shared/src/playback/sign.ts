/**
 * Signing side of playback tokens (ADR 0060): key pairs and tokens, as control issues them and as
 * a user's backend would (any JWT library works; this is `jose`). Private keys leave as PKCS8 PEM.
 */
import { exportJWK, exportPKCS8, generateKeyPair, importPKCS8, SignJWT } from "jose";
import type { PublicJwk, SigningAlg } from "../schemas/mqtt.ts";
import type { PlaybackAudience } from "./token.ts";

export interface GeneratedKeyPair {
  alg: SigningAlg;
  /** PKCS8 PEM; shown to the caller once, never stored by control (except control's own key). */
  privateKeyPem: string;
  publicJwk: PublicJwk;
}

export async function generatePlaybackKeyPair(alg: SigningAlg = "ES256"): Promise<GeneratedKeyPair> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  const jwk = await exportJWK(publicKey);
  const publicJwk: PublicJwk =
    alg === "ES256"
      ? { kty: "EC", crv: "P-256", x: jwk.x as string, y: jwk.y as string }
      : { kty: "RSA", n: jwk.n as string, e: jwk.e as string };
  return { alg, privateKeyPem: await exportPKCS8(privateKey), publicJwk };
}

export interface TokenClaims {
  sub: string;
  aud?: PlaybackAudience;
  /** Seconds since the epoch. */
  exp: number;
  nbf?: number;
  allow_countries?: string[];
  allow_ips?: string[];
}

/** A compact JWS over the claims, `kid` in the header. */
export async function signPlaybackToken(
  key: { kid: string; alg: SigningAlg; privateKeyPem: string },
  claims: TokenClaims,
): Promise<string> {
  const pk = await importPKCS8(key.privateKeyPem, key.alg);
  const { sub, aud, exp, nbf, ...rules } = claims;
  const jwt = new SignJWT({ ...rules })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" })
    .setSubject(sub)
    .setAudience(aud ?? "v")
    .setIssuedAt()
    .setExpirationTime(exp);
  if (nbf !== undefined) jwt.setNotBefore(nbf);
  return jwt.sign(pk);
}
