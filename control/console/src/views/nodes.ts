/**
 * Nodes on a world map drawn offline: Natural Earth land from world-atlas through d3-geo, no tile
 * server. Each node sits at its lat/lon, coloured by state, sized by load; cordon and drain are
 * PATCH /v1/nodes/{id}.
 */
import type { Node } from "@dionysia/shared";
import { geoGraticule10, geoNaturalEarth1, geoPath } from "d3-geo";
import { feature } from "topojson-client";
import type { GeometryCollection, Topology } from "topojson-specification";
import world from "world-atlas/land-110m.json";
import { api } from "../api.ts";
import { clear, fmtBps, h, poll, type View } from "../dom.ts";
import { nodeClass, nodeRadius } from "../model.ts";

const W = 960;
const H = 500;
const SVG = "http://www.w3.org/2000/svg";
const REFRESH_MS = 3000;

const svgEl = (tag: string, attrs: Record<string, string | number>): SVGElement => {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
};

const topo = world as unknown as Topology<{ land: GeometryCollection }>;
const land = feature(topo, topo.objects.land);

export const nodesView: View = (root) => {
  const projection = geoNaturalEarth1().fitSize([W, H], { type: "Sphere" });
  const path = geoPath(projection);
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "World map of nodes" });
  svg.append(
    svgEl("path", { class: "graticule", d: path(geoGraticule10()) ?? "" }),
    svgEl("path", { class: "land", d: path(land) ?? "" }),
  );
  const dots = svgEl("g", { "data-testid": "map-nodes" });
  svg.append(dots);
  const error = h("p", { class: "error", role: "alert" });
  const body = h("tbody", {});
  root.append(
    h("h2", {}, "Nodes"),
    h("div", { class: "map", "data-testid": "map" }, svg),
    error,
    h(
      "table",
      { "data-testid": "nodes" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ...["Node", "State", "Region", "Load", "CPU", "Ingress", "Egress", "Streams", ""].map((c) =>
            h("th", {}, c),
          ),
        ),
      ),
      body,
    ),
  );

  const patch = async (n: Node, change: { cordoned?: boolean; draining?: boolean }) => {
    try {
      await api("PATCH", `/v1/nodes/${encodeURIComponent(n.id)}`, change);
      await refresh();
    } catch (err) {
      error.textContent = (err as Error).message;
    }
  };

  const draw = (nodes: Node[]) => {
    clear(dots);
    clear(body);
    for (const n of nodes) {
      const [x, y] = projection([n.lon, n.lat]) ?? [0, 0];
      const c = svgEl("circle", {
        class: `node ${nodeClass(n)}`,
        cx: x.toFixed(1),
        cy: y.toFixed(1),
        r: nodeRadius(n).toFixed(1),
        "data-node": n.id,
        "data-class": nodeClass(n),
      });
      const tip = svgEl("title", {});
      tip.textContent = `${n.id} (${n.region}): ${nodeClass(n)}, load ${n.load.used}/${n.capacity.loadUnits}`;
      c.append(tip);
      const label = svgEl("text", {
        x: (x + nodeRadius(n) + 3).toFixed(1),
        y: (y + 4).toFixed(1),
        "font-size": 12,
      });
      label.textContent = n.id;
      dots.append(c, label);
      const flags = [n.cordoned ? "cordoned" : "", n.draining ? "draining" : ""].filter(Boolean).join(", ");
      body.append(
        h(
          "tr",
          { "data-node": n.id },
          h("td", {}, n.id, h("br", {}), h("small", {}, `${n.mediaServer} ${n.version}`)),
          h("td", { class: `state-${n.state}` }, n.state, flags ? ` (${flags})` : ""),
          h("td", {}, `${n.region} (${n.lat.toFixed(2)}, ${n.lon.toFixed(2)})`),
          h("td", {}, `${n.load.used} / ${n.capacity.loadUnits}`),
          h("td", {}, `${Math.round(n.load.cpu * 100)} %`),
          h("td", {}, fmtBps(n.load.ingressBps)),
          h("td", {}, fmtBps(n.load.egressBps)),
          h("td", {}, String(n.load.streams)),
          h(
            "td",
            {},
            h(
              "button",
              { "data-action": "cordon", onclick: () => patch(n, { cordoned: !n.cordoned }) },
              n.cordoned ? "Uncordon" : "Cordon",
            ),
            " ",
            h(
              "button",
              { "data-action": "drain", onclick: () => patch(n, { draining: !n.draining }) },
              n.draining ? "Stop draining" : "Drain",
            ),
          ),
        ),
      );
    }
    if (nodes.length === 0)
      body.append(h("tr", {}, h("td", { colspan: 9 }, "No node has announced itself yet.")));
  };

  async function refresh(): Promise<void> {
    const { items } = await api<{ items: Node[] }>("GET", "/v1/nodes");
    if (polling.alive()) draw(items);
  }
  const polling = poll(REFRESH_MS, error, refresh);
  return polling.stop;
};
