/** Runs a transcoder binary's version command: exit 0 and a parsable version, or the reason not. */
import { execa } from "execa";
import type { BackendDetection } from "./types.ts";

/** SGR colour sequences (gpac colours its help and logs on a terminal). */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

export async function detectBinary(
  bin: string,
  args: string[],
  parse: (text: string) => string | undefined,
): Promise<BackendDetection> {
  try {
    const r = await execa(bin, args, { reject: false, timeout: 10_000, stdin: "ignore", all: true });
    const text = String(r.all ?? "").replace(ANSI, "");
    const cmd = `${bin} ${args.join(" ")}`;
    // Not started at all (not found, not executable): execa's first line says which.
    if (r.exitCode === undefined) return { ok: false, reason: (r.shortMessage ?? cmd).split("\n")[0] ?? cmd };
    if (r.exitCode !== 0) {
      const last = text.trim().split("\n").at(-1);
      return { ok: false, reason: `${cmd}: exit ${r.exitCode}${last ? ` (${last})` : ""}` };
    }
    const version = parse(text);
    return version
      ? { ok: true, version }
      : { ok: false, reason: `${cmd}: exit 0 but no version in its output` };
  } catch (err) {
    return { ok: false, reason: `${bin}: ${(err as Error).message}` };
  }
}

/** `gpac -h bin` prints "Version: 26.07-revrelease" (and exits 0; `gpac -version` exits 1). */
export function parseGpacVersion(text: string): string | undefined {
  return /^\s*Version:\s*(\S+)/m.exec(text)?.[1];
}

/** `ffmpeg -version` starts "ffmpeg version 5.1.9-0+deb12u1 Copyright …". */
export function parseFfmpegVersion(text: string): string | undefined {
  return /^ffmpeg version (\S+)/m.exec(text)?.[1];
}
