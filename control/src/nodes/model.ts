import { Node, UpdateNode } from "@dionysia/shared";
import { t } from "elysia";

export { Node, UpdateNode };
export const NodeList = t.Object({ items: t.Array(Node) });
export const NodeParams = t.Object({ id: t.String({ maxLength: 128 }) });
