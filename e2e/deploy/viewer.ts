/**
 * The outside world of the deploy test: control's API as an operator calls it, and a publisher
 * and a viewer that run the controller's ffmpeg and ffprobe inside a namespace of their own
 * (not a deployed host's), resolving the deployed hosts' names as DNS would.
 */
import { type Publisher, probe, publish } from "../../shared/src/testkit/index.ts";
import type { TestHost } from "./hosts.ts";

export function controlApi(control: TestHost, adminKey: string) {
  return async <T>(
    path: string,
    init: { method?: string; json?: unknown } = {},
  ): Promise<{ status: number; body: T }> => {
    const res = await fetch(`http://${control.address}:8080${path}`, {
      method: init.method ?? "GET",
      headers: {
        authorization: `Bearer ${adminKey}`,
        ...(init.json === undefined ? {} : { "content-type": "application/json" }),
      },
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
}

const inNs = (host: TestHost) => ["ip", "netns", "exec", host.netns];

/** The test pattern pushed from `from`'s namespace to `url` (rtmp://name:port/live/key). */
export function publishFrom(from: TestHost, url: string): Publisher {
  return publish(url, { size: "320x180", rate: 15, via: inNs(from) });
}

/** ffprobe of `url` from `from`'s namespace (it follows the router's redirect like a player). */
export function probeFrom(from: TestHost, url: string): ReturnType<typeof probe> {
  return probe(url, 15_000, inNs(from));
}
