/**
 * The player settings Dionysia recommends (docs/low-latency.md), in one place: the console's
 * player, the browser tests and the glass-to-glass bench all use them.
 */

/** hls.js options for a profile's formats: low-latency mode exactly when it packages LL-HLS. */
export function hlsjsSettings(formats: readonly string[] | undefined): {
  lowLatencyMode: boolean;
  liveSyncDurationCount?: number;
  maxLiveSyncPlaybackRate?: number;
  backBufferLength?: number;
} {
  if (formats?.includes("ll-hls"))
    // PART-HOLD-BACK is hls.js's target; up to 1.5x speed brings a late joiner (or one who
    // stalled) back to it instead of staying behind for the rest of the session.
    return { lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5, backBufferLength: 30 };
  return { lowLatencyMode: false, liveSyncDurationCount: 3 };
}

/** dash.js (4.7) settings for a profile's formats: its low-latency mode when the profile is LL. */
export function dashjsSettings(formats: readonly string[] | undefined): {
  streaming: {
    lowLatencyEnabled?: boolean;
    liveCatchup?: { enabled: boolean };
    abr: { autoSwitchBitrate: { video: boolean } };
  };
} {
  const abr = { autoSwitchBitrate: { video: true } };
  // The manifest's ServiceDescription sets the target latency; catch-up holds the player to it.
  if (formats?.includes("ll-hls"))
    return { streaming: { lowLatencyEnabled: true, liveCatchup: { enabled: true }, abr } };
  return { streaming: { abr } };
}
