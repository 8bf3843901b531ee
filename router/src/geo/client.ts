/** Where the viewer is, from headers a CDN adds (ADR 0051). Pure; no allocation beyond header reads. */
import type { LatLon } from "../../../shared/src/geo.ts";
import { countryPosition } from "./countries.ts";

export interface GeoHeaders {
  latHeader: string;
  lonHeader: string;
  fallbackLatHeader: string;
  fallbackLonHeader: string;
  countryHeaders: readonly string[];
}

function coord(raw: string | null, limit: number): number | undefined {
  if (raw === null || raw === "") return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n >= -limit && n <= limit ? n : undefined;
}

function pair(h: Headers, latName: string, lonName: string): LatLon | undefined {
  const lat = coord(h.get(latName), 90);
  if (lat === undefined) return undefined;
  const lon = coord(h.get(lonName), 180);
  return lon === undefined ? undefined : { lat, lon };
}

/** Precise coordinates first, then a country centroid; undefined when nothing usable is present. */
export function clientPosition(h: Headers, g: GeoHeaders): LatLon | undefined {
  const p = pair(h, g.latHeader, g.lonHeader) ?? pair(h, g.fallbackLatHeader, g.fallbackLonHeader);
  if (p) return p;
  for (const name of g.countryHeaders) {
    const cc = h.get(name);
    if (cc) {
      const pos = countryPosition(cc.trim());
      if (pos) return pos;
    }
  }
  return undefined;
}
