/**
 * What the browser suites need (Node for playwright-core, ffmpeg, Debian's Chromium, the player
 * libraries in node_modules), in one place: a suite that lacks one says which and skips.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { FFMPEG, playwrightNode, reportSkip } from "../../shared/src/testkit/index.ts";
import { ROOT } from "../platform.ts";

export const LIBS = process.env.PLAYER_LIBS_DIR ?? join(ROOT, "node_modules");
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const NODE = playwrightNode();

/** True when everything is there; otherwise reports the skip for `suite` and returns false. */
export function browserSuiteReady(suite: string, packages: string[] = ["hls.js"]): boolean {
  const missing = [
    ["node 20+", NODE],
    ["ffmpeg", FFMPEG],
    ["chromium", existsSync(CHROMIUM) ? CHROMIUM : null],
    ...packages.map((p) => [p, existsSync(join(LIBS, p)) ? LIBS : null]),
  ]
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length)
    reportSkip(
      suite,
      `missing ${missing.join(", ")} (apt-get install chromium ffmpeg; CHROMIUM / PLAYER_LIBS_DIR override)`,
    );
  return missing.length === 0;
}
