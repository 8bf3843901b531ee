/**
 * Desired versions are bounded (ADR 0035): control's versions are a database counter that grows
 * by one per change, so a version past 2^40, or more than a million past the one in force, is no
 * version control sent. Accepting it would lock control out of this node until a restart (every
 * real version would look stale). Pure.
 */
export const MAX_DESIRED_VERSION = 2 ** 40;
export const MAX_DESIRED_VERSION_STEP = 1_000_000;

export function implausibleVersion(version: number, applied: number | undefined): string | undefined {
  if (version > MAX_DESIRED_VERSION) return `version ${version} > 2^40`;
  if (applied !== undefined && version > applied + MAX_DESIRED_VERSION_STEP)
    return `version ${version} jumps more than ${MAX_DESIRED_VERSION_STEP} past ${applied}`;
  return undefined;
}
