import { Profile, ProfileSpec } from "@dionysia/shared";
import { t } from "elysia";

export { Profile, ProfileSpec };
export const ProfileList = t.Object({ items: t.Array(Profile) });
export const ProfileParams = t.Object({ id: t.String({ maxLength: 128 }) });
