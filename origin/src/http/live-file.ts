/**
 * Finds a file under the live root with one `lstat` per request, or reads a small one with
 * open/fstat/read/close (sync: on a cached inode these take about a microsecond each, far less
 * than a thread-pool round trip). Symlinks below the root are
 * refused, files and directories alike: the origin's packagers never write any, so a symlink
 * there is not ours and may lead out of the data dir (ADR 0026). The root itself may be one.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from "node:fs";
import { sep } from "node:path";

/** What the response needs from the stat. */
export interface LiveFile {
  size: number;
  mtimeMs: number;
}

/** A small file read whole: body, size and mtime come from the same open file (one snapshot). */
export interface LiveBytes extends LiveFile {
  body: Uint8Array<ArrayBuffer>;
}

export interface LiveFiles {
  /** `path` must come from `resolveLivePath(root, …)`: validated and under `root`. */
  find(path: string): LiveFile | undefined;
  /**
   * Reads a small file (manifests) whole: open with O_NOFOLLOW (a symlink fails to open), fstat,
   * read, close. Undefined when missing, not a regular file, a symlink, or over `maxBytes`.
   */
  read(path: string, maxBytes: number): LiveBytes | undefined;
}

export interface LiveFilesOptions {
  /** How long a directory stays verified as symlink-free (ms). */
  dirTtlMs?: number;
  /** Verified directories kept at most (the map is cleared past it). */
  maxDirs?: number;
  now?: () => number;
}

const READ_NOFOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW;

export function liveFiles(root: string, o: LiveFilesOptions = {}): LiveFiles {
  const ttl = o.dirTtlMs ?? 1000;
  const maxDirs = o.maxDirs ?? 10_000;
  const now = o.now ?? Date.now;
  // Directories are few (stream, rendition) and long-lived, so their check is cached for a
  // second rather than repeated per request; only directories that passed are kept.
  const verified = new Map<string, number>();

  function dirOk(dir: string): boolean {
    const t = now();
    const until = verified.get(dir);
    if (until !== undefined && until > t) return true;
    // Every directory from the root down: a real directory (lstat: a symlink is not one).
    let i = root.length + 1;
    while (i <= dir.length) {
      let j = dir.indexOf(sep, i);
      if (j < 0) j = dir.length;
      const st = lstatSync(dir.slice(0, j), { throwIfNoEntry: false });
      if (!st?.isDirectory()) return false;
      i = j + 1;
    }
    if (verified.size >= maxDirs) verified.clear();
    verified.set(dir, t + ttl);
    return true;
  }

  return {
    find(path) {
      const st = lstatSync(path, { throwIfNoEntry: false });
      // Missing, a directory, a device or a symlink (lstat does not follow it): not served.
      if (!st?.isFile()) return undefined;
      const dir = path.slice(0, path.lastIndexOf(sep));
      if (dir.length > root.length && !dirOk(dir)) return undefined;
      return st;
    },
    read(path, maxBytes) {
      const dir = path.slice(0, path.lastIndexOf(sep));
      let fd: number;
      try {
        fd = openSync(path, READ_NOFOLLOW);
      } catch {
        return undefined; // ENOENT, ELOOP (a symlink), EACCES…
      }
      try {
        const st = fstatSync(fd);
        if (!st.isFile() || st.size > maxBytes) return undefined;
        if (dir.length > root.length && !dirOk(dir)) return undefined;
        const body = Buffer.allocUnsafe(st.size);
        const n = st.size === 0 ? 0 : readSync(fd, body, 0, st.size, 0);
        return { size: n, mtimeMs: st.mtimeMs, body: n === st.size ? body : body.subarray(0, n) };
      } finally {
        closeSync(fd);
      }
    },
  };
}
