/**
 * The API reference's browser code, served by control itself (ADR 0075): Scalar's standalone
 * bundle from the pinned npm package instead of a CDN, so `/swagger` renders with no internet.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { Elysia } from "elysia";

/** Where the swagger plugin's page loads Scalar from (same origin, versioned by bun.lock). */
export const SCALAR_ASSET_PATH = "/swagger/assets/scalar.js";

/**
 * Scalar options that keep the page on this host: no web fonts from fonts.scalar.com (the
 * system font stack instead), no "try it" proxy (requests go straight to this origin), and none
 * of the hosted extras (AI agent, MCP, developer toolbar) that call scalar.com.
 */
export const scalarOfflineConfig = {
  withDefaultFonts: false,
  proxyUrl: "",
  hideClientButton: true,
  showDeveloperTools: "never",
  agent: { disabled: true },
  mcp: { disabled: true },
  // The plugin's type predates these options (it pins an older @scalar/types).
} as Record<string, unknown>;

/** Where a release bundle ships the file (`./dionysia bundle`): the package and its ~300 MB of
 * build-time dependencies stay out of the release, only this one file is needed. */
export const SHIPPED_SCALAR = join(import.meta.dir, "../../dist/scalar-standalone.js");

/** The UMD standalone bundle: one file, no chunks to fetch. */
export function scalarBundlePath(): string {
  if (existsSync(SHIPPED_SCALAR)) return SHIPPED_SCALAR;
  const entry = Bun.resolveSync("@scalar/api-reference", import.meta.dir);
  return join(dirname(entry), "browser/standalone.js");
}

export function apiDocsAssets() {
  const file = Bun.file(scalarBundlePath());
  return new Elysia({ name: "api-docs-assets" }).get(
    SCALAR_ASSET_PATH,
    ({ set }) => {
      set.headers["content-type"] = "text/javascript; charset=utf-8";
      set.headers["cache-control"] = "public, max-age=3600";
      return file;
    },
    { detail: { hide: true } },
  );
}
