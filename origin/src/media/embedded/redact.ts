/** ffmpeg echoes its input/output URLs in errors; these carry passphrases, keys and tokens. */
export function redactSecrets(line: string): string {
  return line
    .replace(/(passphrase|token|t|key|password|pass)=([^&\s'"]+)/gi, "$1=<redacted>")
    .replace(/\/\/([^/@\s:]+):([^/@\s]+)@/g, "//$1:<redacted>@")
    .replace(/\/live\/[^\s/?'"]+/g, "/live/<redacted>");
}
