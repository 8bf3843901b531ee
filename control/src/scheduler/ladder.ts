/**
 * Admission that degrades instead of refusing (docs/adr/0014-degraded-admission.md): when a node
 * cannot fit a stream's whole ladder, serve the rungs that fit. Pure functions of a profile.
 */
import { type ProfileSpec, profileCost, renditionCost } from "@dionysia/shared";

/** The profile as served: only the `served` rungs (null: the whole ladder), in ladder order. */
export function servedProfile(
  profile: ProfileSpec,
  served: readonly string[] | null | undefined,
): ProfileSpec {
  if (!served) return profile;
  const keep = new Set(served);
  return { ...profile, renditions: profile.renditions.filter((r) => keep.has(r.name)) };
}

/** Cost of the ladder as served (the whole ladder when `served` is null). */
export function servedCost(profile: ProfileSpec, served?: readonly string[] | null): number {
  return profileCost(servedProfile(profile, served));
}

/** A profile may be trimmed unless it says `"degrade": false`. */
export function canDegrade(profile: Pick<ProfileSpec, "degrade">): boolean {
  return profile.degrade !== false;
}

export type TrimResult =
  /** `served`: rung names kept, in ladder order; null when the whole ladder fits. */
  { served: string[] | null; cost: number } | { error: "no_capacity" };

/**
 * The largest part of the ladder that fits `headroom` load units: drops the most expensive rungs
 * first (ties: the later rung first), never below one rung. A profile with `degrade: false` (or
 * with nothing to drop) either fits whole or not at all.
 */
export function trimLadder(profile: ProfileSpec, headroom: number): TrimResult {
  const full = profileCost(profile);
  if (full <= headroom) return { served: null, cost: full };
  if (!canDegrade(profile) || profile.renditions.length <= 1) return { error: "no_capacity" };
  const dropOrder = profile.renditions
    .map((r, i) => ({ name: r.name, cost: renditionCost(r), i }))
    .sort((a, b) => b.cost - a.cost || b.i - a.i);
  const dropped = new Set<string>();
  for (const r of dropOrder.slice(0, -1)) {
    dropped.add(r.name);
    const served = profile.renditions.filter((x) => !dropped.has(x.name)).map((x) => x.name);
    const cost = servedCost(profile, served);
    if (cost <= headroom) return { served, cost };
  }
  return { error: "no_capacity" };
}

/** Cost of the cheapest admission of a profile: its cheapest rung (the whole ladder if it cannot degrade). */
export function minimumCost(profile: ProfileSpec): number {
  if (!canDegrade(profile) || profile.renditions.length <= 1) return profileCost(profile);
  let cheapest = profile.renditions[0];
  for (const r of profile.renditions)
    if (cheapest && renditionCost(r) < renditionCost(cheapest)) cheapest = r;
  return servedCost(profile, cheapest ? [cheapest.name] : []);
}
