/**
 * Semantic checks beyond the JSON schema: what TypeBox cannot say about a ladder.
 * Returns every problem so an API client can fix them all at once.
 */
import type { ProfileSpec } from "../schemas/profile.ts";

/** LL-HLS part duration when a profile names none (OvenMediaEngine's stable default too). */
export const DEFAULT_PART_DURATION = 0.5;
/** Relative slack for "whole multiple" (decimal fractions such as 0.1 are not exact in binary). */
const PART_TOLERANCE = 1e-3;

/** The part duration a profile's LL-HLS output uses. */
export function partDurationOf(p: Pick<ProfileSpec, "partDuration">): number {
  return p.partDuration ?? DEFAULT_PART_DURATION;
}

export interface ProfileProblem {
  path: string;
  message: string;
}

export function validateProfile(p: ProfileSpec): ProfileProblem[] {
  const problems: ProfileProblem[] = [];
  const seen = new Set<string>();
  let copies = 0;
  p.renditions.forEach((r, i) => {
    const at = `/renditions/${i}`;
    if (seen.has(r.name))
      problems.push({ path: `${at}/name`, message: `duplicate rendition name "${r.name}"` });
    seen.add(r.name);
    if (r.codec === "copy") {
      copies++;
      return;
    }
    if (r.width === undefined || r.height === undefined)
      problems.push({ path: at, message: "width and height are required unless codec is copy" });
    if (r.width !== undefined && r.width % 2 !== 0)
      problems.push({ path: `${at}/width`, message: "must be even" });
    if (r.height !== undefined && r.height % 2 !== 0)
      problems.push({ path: `${at}/height`, message: "must be even" });
    if (r.bitrateKbps === undefined)
      problems.push({ path: `${at}/bitrateKbps`, message: "required unless codec is copy" });
    if (r.bitrateKbps !== undefined && r.width && r.height) {
      // Bits per pixel outside [0.005, 2] is a typo, not a choice (e.g. 4K at 100 kb/s).
      const bpp = (r.bitrateKbps * 1000) / (r.width * r.height * (r.fps ?? 30));
      if (bpp < 0.005) problems.push({ path: `${at}/bitrateKbps`, message: "too low for this resolution" });
      if (bpp > 2) problems.push({ path: `${at}/bitrateKbps`, message: "too high for this resolution" });
    }
  });
  if (copies > 1) problems.push({ path: "/renditions", message: "at most one copy rendition" });
  if (p.renditions.length === 0 && !p.audio)
    problems.push({ path: "/", message: "needs at least one rendition or audio" });
  if (p.audio && p.audio.codec !== "copy" && p.audio.bitrateKbps === undefined)
    problems.push({ path: "/audio/bitrateKbps", message: "required unless codec is copy" });
  if (p.partDuration !== undefined || p.formats.includes("ll-hls")) {
    // Parts tile a segment exactly: the packager cuts segments on part boundaries.
    const part = partDurationOf(p);
    const which = p.partDuration === undefined ? `the default partDuration (${part} s)` : "partDuration";
    if (part > p.segmentDuration * (1 + PART_TOLERANCE))
      problems.push({ path: "/partDuration", message: `${which} must not exceed segmentDuration` });
    else {
      const ratio = p.segmentDuration / part;
      if (Math.abs(ratio - Math.round(ratio)) > PART_TOLERANCE * ratio)
        problems.push({
          path: "/partDuration",
          message: `segmentDuration must be a whole multiple of ${which}`,
        });
    }
  }
  if (p.container === "ts" && (p.formats.includes("dash") || p.formats.includes("ll-hls")))
    problems.push({ path: "/container", message: "ts segments serve HLS only; use fmp4 for dash or ll-hls" });
  return problems;
}
