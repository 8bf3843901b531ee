/**
 * Per-stream SRT ports (embedded media server). Control assigns each stream its port once, at
 * creation, so ingest URLs are right before the stream is placed and stay right across restarts
 * and moves. Ports are handed out round-robin from a persisted cursor: a deleted stream's port is
 * reused only after the whole range went round, so an old URL does not reach a new stream's
 * listener (which would refuse it anyway: every stream has its own passphrase).
 */
export interface PortRange {
  from: number;
  to: number;
}

/** First port at or after `cursor` (wrapping within the range) not in `used`; undefined when full. */
export function nextFreePort(
  range: PortRange,
  used: ReadonlySet<number>,
  cursor: number,
): number | undefined {
  const size = range.to - range.from + 1;
  const start = cursor >= range.from && cursor <= range.to ? cursor - range.from : 0;
  for (let i = 0; i < size; i++) {
    const port = range.from + ((start + i) % size);
    if (!used.has(port)) return port;
  }
  return undefined;
}
