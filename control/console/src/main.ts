/** The console shell: sign-in, navigation between views (#/streams, #/play/ID, ...), the MQTT feed. */
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { api, session, whenUnauthorized } from "./api.ts";
import { clear, h, type View } from "./dom.ts";
import { feed } from "./feed.ts";
import { eventsView } from "./views/events.ts";
import { nodesView } from "./views/nodes.ts";
import { streamsView } from "./views/streams.ts";
import { telemetryView } from "./views/telemetry.ts";

/** The player (hls.js and dash.js, most of the bundle) is a chunk loaded when first opened. */
const playerView: View = (root, args) => {
  let off: (() => void) | undefined;
  let gone = false;
  import("./views/player.ts")
    .then((m) => {
      if (!gone) off = m.playerView(root, args);
    })
    .catch((err) => root.append(h("p", { class: "error" }, `player: ${(err as Error).message}`)));
  return () => {
    gone = true;
    off?.();
  };
};

const VIEWS: Record<string, { title: string; view: View; nav: boolean }> = {
  streams: { title: "Streams", view: streamsView, nav: true },
  play: { title: "Player", view: playerView, nav: false },
  nodes: { title: "Nodes", view: nodesView, nav: true },
  telemetry: { title: "Telemetry", view: telemetryView, nav: true },
  events: { title: "Events", view: eventsView, nav: true },
};

const app = document.getElementById("app") as HTMLElement;
let unmount: (() => void) | undefined;
let offStatus: (() => void) | undefined;

function signIn(message = ""): void {
  unmount?.();
  unmount = undefined;
  offStatus?.();
  offStatus = undefined;
  window.onhashchange = null;
  feed.stop();
  clear(app);
  const input = h("input", {
    type: "password",
    name: "apiKey",
    autocomplete: "off",
    placeholder: "dk_…",
    "aria-label": "API key",
    required: true,
  });
  const note = h("p", { class: "error", role: "alert" }, message);
  const form = h(
    "form",
    {
      class: "signin",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const key = input.value.trim();
        try {
          await api("GET", "/v1/streams?limit=1", undefined, key);
        } catch (err) {
          note.textContent = `Sign-in refused: ${(err as Error).message}`;
          return;
        }
        session.set(key);
        if (!location.hash) location.hash = "#/streams";
        shell();
      },
    },
    h("h1", {}, "Dionysia console"),
    h("label", {}, "API key", input),
    h("button", { type: "submit" }, "Sign in"),
    h("p", { class: "hint" }, "The key stays in this tab's session storage and is sent only to this server."),
    note,
  );
  app.append(form);
  input.focus();
}

function shell(): void {
  clear(app);
  const nav = h(
    "nav",
    {},
    h("strong", {}, "Dionysia"),
    ...Object.entries(VIEWS)
      .filter(([, v]) => v.nav)
      .map(([k, v]) => h("a", { href: `#/${k}`, "data-view": k }, v.title)),
    h("a", { href: "/swagger", target: "_blank", rel: "noopener" }, "API reference"),
    h("span", { class: "mqtt-status", "data-testid": "mqtt-status" }),
    h(
      "button",
      {
        class: "link",
        onclick: () => {
          session.clear();
          signIn();
        },
      },
      "Sign out",
    ),
  );
  const main = h("main", {});
  app.append(nav, main);
  const status = nav.querySelector(".mqtt-status") as HTMLElement;
  const paint = () => {
    status.textContent = `MQTT: ${feed.status}${feed.error ? ` (${feed.error})` : ""}`;
    status.dataset.state = feed.status;
  };
  offStatus?.();
  offStatus = feed.subscribe(paint);
  paint();
  void feed.start();
  const route = () => {
    const [name = "streams", ...args] = location.hash.replace(/^#\/?/, "").split("/");
    const entry = VIEWS[name] ?? VIEWS.streams;
    for (const a of nav.querySelectorAll("a[data-view]"))
      a.classList.toggle("active", (a as HTMLElement).dataset.view === name);
    unmount?.();
    clear(main);
    document.title = `${entry?.title ?? "Console"} · Dionysia`;
    unmount = entry?.view(main, args.map(decodeURIComponent));
  };
  window.onhashchange = route;
  route();
}

whenUnauthorized(() => {
  session.clear();
  signIn("The API key was refused (revoked?). Sign in again.");
});

if (session.key()) shell();
else signIn();
