/**
 * Recent events: the platform's events (the webhook events: GET /v1/events on open, then live on
 * MQTT, ADR 0097) and the stream status changes and node states the MQTT feed sees (retained
 * messages found on connect are marked: they are states, not live changes).
 */
import { clear, h, type View } from "../dom.ts";
import { feed } from "../feed.ts";

export const eventsView: View = (root) => {
  const list = h("ol", { class: "events", reversed: true, "data-testid": "events" });
  const note = h("p", { class: "hint" });
  root.append(h("h2", {}, "Recent events"), note, list);
  const paint = () => {
    note.textContent = `Platform events (as webhooks get them) and status changes, live from MQTT (${feed.status}); the newest first, the last ${feed.events.length} kept in this tab.`;
    clear(list);
    for (const e of feed.events)
      list.append(
        h(
          "li",
          {
            class: e.retained ? "retained" : "",
            "data-kind": e.kind,
            "data-subject": e.subject,
            ...(e.type ? { "data-type": e.type } : {}),
          },
          `${new Date(e.at).toLocaleTimeString()}  ${e.text}${e.retained ? "  (state on connect)" : ""}`,
        ),
      );
  };
  const off = feed.subscribe(paint);
  paint();
  return off;
};
