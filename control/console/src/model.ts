/** Pure rules of the console's views (unit-tested in control/test/console-model.test.ts). */
import type { Node, Profile, Stream } from "@dionysia/shared";
import { hlsjsSettings } from "@dionysia/shared/player-settings";

/** hls.js options for a stream's profile (shared/src/player-settings.ts). */
export function hlsOptions(profile: Pick<Profile, "formats"> | undefined): ReturnType<typeof hlsjsSettings> {
  return hlsjsSettings(profile?.formats);
}

/** Map colour class: offline, cordoned (cordoned or draining) or online. */
export function nodeClass(
  n: Pick<Node, "state" | "cordoned" | "draining">,
): "online" | "offline" | "cordoned" {
  if (n.state !== "online") return "offline";
  return n.cordoned || n.draining ? "cordoned" : "online";
}

/** Map radius, 5..20 px by the share of the node's transcode budget in use. */
export function nodeRadius(n: Pick<Node, "load" | "capacity">): number {
  const share = n.capacity.loadUnits > 0 ? Math.min(1, Math.max(0, n.load.used / n.capacity.loadUnits)) : 0;
  return 5 + 15 * share;
}

/** Served rungs, with the requested ladder when the node trimmed or shed some. */
export function ladderText(s: Pick<Stream, "ladder">): string {
  const served = s.ladder.served.length ? s.ladder.served.join(", ") : "–";
  return s.ladder.served.length === s.ladder.requested.length
    ? served
    : `${served} (of ${s.ladder.requested.join(", ")})`;
}
