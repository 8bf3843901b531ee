/** Input URLs may carry a stream key or SRT passphrase: logs get scheme and host only. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.protocol === "file:") return "file://<redacted>";
    return `${u.protocol}//${u.host}/<redacted>`;
  } catch {
    return "<redacted-url>";
  }
}

/** Replaces every occurrence of `secretUrl` (and its path/query) in a log line. */
export function redactLine(line: string, secretUrl: string): string {
  let out = line.split(secretUrl).join(redactUrl(secretUrl));
  try {
    const u = new URL(secretUrl);
    for (const part of [u.pathname + u.search, u.search, u.username, u.password]) {
      if (part && part.length > 3) out = out.split(part).join("<redacted>");
    }
  } catch {
    // not a URL: the whole-string replacement above is all we can do
  }
  return out;
}
