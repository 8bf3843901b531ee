/**
 * Pull sources are checked where they enter (stream create/patch): scheme and every resolved
 * destination against the operator's policy (shared pull-source, ADR 0035). 422 with the reason.
 */
import { checkPullSource, pullPolicyFrom, type Resolver, systemResolver } from "@dionysia/shared";
import type { Deps } from "../deps.ts";
import { ApiError } from "../errors/index.ts";

export async function assertPullSourceAllowed(
  deps: Deps,
  source: string | null | undefined,
  resolve: Resolver = systemResolver,
): Promise<void> {
  if (source === undefined || source === null) return;
  // A name control cannot resolve may resolve for the origins; they check again before pulling.
  const v = await checkPullSource(source, pullPolicyFrom(deps.config), resolve, { acceptUnresolvable: true });
  if (v.ok) return;
  deps.log.warn({ reason: v.reason }, "pull source refused");
  throw new ApiError(422, "source_not_allowed", `source refused: ${v.reason}`, {
    problems: [{ path: "/source", message: v.reason }],
  });
}
