/** Synthetic fragments for the pure packager tests: 0.5 s parts, a keyframe every 2 s. */
import { LiveWindow, type WindowConfig } from "../../src/packager/window.ts";

export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

/** A window fed `parts` fragments of `partDuration`, keyframes every `perSegment` fragments. */
export function windowWith(
  parts: number,
  config: Partial<WindowConfig> = {},
  partDuration = 0.5,
): LiveWindow {
  const w = new LiveWindow({ segmentDuration: 2, windowSize: 6, ...config });
  const perSegment = Math.round(w.config.segmentDuration / partDuration);
  for (let i = 0; i < parts; i++) {
    w.add({
      decodeTime: i * partDuration,
      duration: partDuration,
      independent: i % perSegment === 0,
      length: 1000 + i,
      arrivedAt: T0 + (i + 1) * partDuration * 1000,
    });
  }
  return w;
}
