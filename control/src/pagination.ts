/** Keyset pagination cursors (newest first by time, then id): one format for every list. */
import { ApiError } from "./errors/index.ts";

const CURSOR = /^(\d{1,16}):([0-9A-Za-z_]{1,64})$/;

export function encodeCursor(createdAt: number, id: string): string {
  return Buffer.from(`${createdAt}:${id}`).toString("base64url");
}

export function decodeCursor(c: string): { createdAt: number; id: string } {
  const m = CURSOR.exec(Buffer.from(c, "base64url").toString());
  if (!m)
    throw new ApiError(422, "invalid_cursor", "cursor is not one this API returned", {
      problems: [{ path: "/cursor", message: "invalid cursor" }],
    });
  return { createdAt: Number(m[1]), id: m[2] as string };
}
