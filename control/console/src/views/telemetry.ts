/**
 * Live telemetry charts per node (CPU, load units, ingress/egress), drawn with uPlot from the
 * MQTT feed (the node telemetry topic over WebSockets), not from the API.
 */
import uPlot from "uplot";
import { clear, fmtBps, h, type View } from "../dom.ts";
import { feed, type TelemetryPoint } from "../feed.ts";

interface Chart {
  plot: uPlot;
  data: (p: TelemetryPoint[]) => uPlot.AlignedData;
}

const WIDTH = 440;
const HEIGHT = 180;

function chart(
  el: HTMLElement,
  title: string,
  series: { label: string; stroke: string; get: (p: TelemetryPoint) => number }[],
  fmt: (v: number) => string,
): Chart {
  const plot = new uPlot(
    {
      title,
      width: WIDTH,
      height: HEIGHT,
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 1.5 }))],
      axes: [{}, { values: (_u, ticks) => ticks.map(fmt), size: 84 }],
      scales: { x: { time: true } },
    },
    [[], ...series.map(() => [])],
    el,
  );
  return {
    plot,
    data: (pts) => [pts.map((p) => p.t), ...series.map((s) => pts.map(s.get))] as uPlot.AlignedData,
  };
}

export const telemetryView: View = (root) => {
  const grid = h("div", { class: "charts" });
  const note = h("p", { class: "hint", "data-testid": "telemetry-note" });
  root.append(h("h2", {}, "Telemetry (live, MQTT over WebSockets)"), note, grid);
  const perNode = new Map<string, { charts: Chart[]; card: HTMLElement }>();

  const ensure = (nodeId: string) => {
    let entry = perNode.get(nodeId);
    if (entry) return entry;
    const card = h("section", { class: "chart", "data-node": nodeId }, h("h3", {}, nodeId));
    grid.append(card);
    const box = () => {
      const d = h("div", {});
      card.append(d);
      return d;
    };
    const charts = [
      chart(
        box(),
        "CPU",
        [{ label: "cpu %", stroke: "#c83737", get: (p) => p.cpu * 100 }],
        (v) => `${v.toFixed(0)} %`,
      ),
      chart(
        box(),
        "Load units",
        [
          { label: "used", stroke: "#2e6fd0", get: (p) => p.loadUsed },
          { label: "capacity", stroke: "#888", get: (p) => p.loadCapacity },
        ],
        (v) => v.toFixed(0),
      ),
      chart(
        box(),
        "Network",
        [
          { label: "ingress", stroke: "#2e9d4f", get: (p) => p.ingressBps },
          { label: "egress", stroke: "#d08b00", get: (p) => p.egressBps },
        ],
        fmtBps,
      ),
    ];
    entry = { charts, card };
    perNode.set(nodeId, entry);
    return entry;
  };

  let frame = 0;
  const paint = () => {
    frame = 0;
    note.textContent =
      feed.status === "connected"
        ? `${feed.messages.total} MQTT messages received`
        : `MQTT ${feed.status}${feed.error ? `: ${feed.error}` : ""}`;
    if (feed.telemetry.size === 0 && feed.status === "connected")
      note.textContent += " · waiting for the first node telemetry";
    for (const [nodeId, pts] of feed.telemetry) {
      const { charts, card } = ensure(nodeId);
      for (const c of charts) c.plot.setData(c.data(pts));
      // The tests read how many points a chart holds.
      card.dataset.points = String(pts.length);
    }
  };
  const schedule = () => {
    frame ||= requestAnimationFrame(paint);
  };
  const off = feed.subscribe(schedule);
  paint();
  return () => {
    off();
    if (frame) cancelAnimationFrame(frame);
    for (const { charts } of perNode.values()) for (const c of charts) c.plot.destroy();
    clear(grid);
  };
};
