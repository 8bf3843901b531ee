/** Reads event times out of an origin's pino JSON lines (for the latency breakdown). */

export interface LogEvent {
  msg: string;
  at: number;
  streamId?: string;
  status?: string;
}

export function parseLogLines(lines: string[]): LogEvent[] {
  const out: LogEvent[] = [];
  for (const line of lines) {
    if (!line.startsWith("{")) continue;
    try {
      const j = JSON.parse(line) as {
        msg?: string;
        time?: string | number;
        streamId?: string;
        status?: string;
      };
      if (!j.msg || j.time === undefined) continue;
      const at = typeof j.time === "number" ? j.time : Date.parse(j.time);
      if (Number.isNaN(at)) continue;
      out.push({
        msg: j.msg,
        at,
        ...(j.streamId ? { streamId: j.streamId } : {}),
        ...(j.status ? { status: j.status } : {}),
      });
    } catch {
      // not a log line (ffmpeg output, pretty logs): ignore
    }
  }
  return out;
}

/** Time of the first `msg` for `streamId` at or after `since`. */
export function firstEvent(
  events: LogEvent[],
  streamId: string,
  msg: string,
  since: number,
  status?: string,
): number | undefined {
  return events.find(
    (e) =>
      e.streamId === streamId &&
      e.msg === msg &&
      e.at >= since &&
      (status === undefined || e.status === status),
  )?.at;
}
