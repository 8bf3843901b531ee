/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms: "the origin itself". */
export function isLoopback(addr: string | undefined | null): boolean {
  if (!addr) return false;
  const a = addr.replace(/^::ffff:/i, "");
  return a === "::1" || a.startsWith("127.");
}
