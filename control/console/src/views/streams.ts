/** Streams: status, node, served ladder and encoder stats; create, rotate the key, delete. */
import type { Profile, Stream, StreamWithKey } from "@dionysia/shared";
import { api, listAll } from "../api.ts";
import { clear, fmtNum, h, poll, type View } from "../dom.ts";
import { ladderText } from "../model.ts";

const REFRESH_MS = 3000;

/** OBS server, key and SRT URL: only the create and rotate replies carry them, so shown once. */
function secretPanel(s: StreamWithKey, what: string): HTMLElement {
  const row = (k: string, v: string | undefined) =>
    v ? [h("dt", {}, k), h("dd", {}, h("code", { "data-testid": `secret-${k}` }, v))] : [];
  return h(
    "section",
    { class: "secret", "data-testid": "secret" },
    h("strong", {}, `${what} "${s.name}": copy these now, they are not shown again.`),
    h(
      "dl",
      {},
      ...row("OBS server", s.ingest.rtmp),
      ...row("Stream key", s.streamKey),
      ...row("SRT URL", s.ingest.srt),
      ...row("HLS", s.playback.hls),
    ),
    h("button", { onclick: (e: Event) => (e.target as HTMLElement).closest(".secret")?.remove() }, "Done"),
  );
}

export const streamsView: View = (root) => {
  const secrets = h("div", {});
  const error = h("p", { class: "error", role: "alert" });
  const body = h("tbody", {});
  const profileSelect = h("select", { name: "profileId" });
  const nameInput = h("input", { name: "name", required: true, maxlength: 200, placeholder: "my stream" });
  const create = h(
    "form",
    {
      class: "inline",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        try {
          const s = await api<StreamWithKey>("POST", "/v1/streams", {
            name: nameInput.value,
            ...(profileSelect.value ? { profileId: profileSelect.value } : {}),
          });
          nameInput.value = "";
          secrets.replaceChildren(secretPanel(s, "Created"));
          await refresh();
        } catch (err) {
          error.textContent = `create: ${(err as Error).message}`;
        }
      },
    },
    h("label", {}, "Name", nameInput),
    h("label", {}, "Profile", profileSelect),
    h("button", { type: "submit" }, "Create stream"),
  );
  root.append(h("h2", {}, "Streams"), create, secrets, error);
  root.append(
    h(
      "table",
      { "data-testid": "streams" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ...["Name", "Status", "Node", "Served ladder", "Bit rate", "FPS", "Speed", ""].map((c) =>
            h("th", {}, c),
          ),
        ),
      ),
      body,
    ),
  );

  void api<{ items: Profile[] }>("GET", "/v1/profiles")
    .then(({ items }) => {
      for (const p of items) profileSelect.append(h("option", { value: p.id }, `${p.name} (${p.id})`));
      profileSelect.value = items.some((p) => p.id === "builtin-720p")
        ? "builtin-720p"
        : (items[0]?.id ?? "");
    })
    .catch((err) => {
      error.textContent = `profiles: ${(err as Error).message}`;
    });

  const act = async (fn: () => Promise<void>) => {
    try {
      await fn();
      await refresh();
    } catch (err) {
      error.textContent = (err as Error).message;
    }
  };

  const rowOf = (s: Stream) =>
    h(
      "tr",
      { "data-stream": s.id, "data-name": s.name, "data-status": s.status },
      h("td", {}, h("div", {}, s.name), h("small", {}, s.id)),
      h(
        "td",
        { class: `status status-${s.status}` },
        s.status,
        s.stats?.lastError ? ` (${s.stats.lastError})` : "",
      ),
      h("td", {}, s.nodeId ?? "–"),
      h("td", {}, ladderText(s)),
      h("td", {}, s.stats?.bitrateKbps !== undefined ? `${Math.round(s.stats.bitrateKbps)} kb/s` : "–"),
      h("td", {}, fmtNum(s.stats?.fps, 1)),
      h("td", {}, fmtNum(s.stats?.speed, 2, "×")),
      h(
        "td",
        {},
        h("a", { href: `#/play/${encodeURIComponent(s.id)}`, "data-action": "play" }, "Play"),
        " ",
        h(
          "button",
          {
            "data-action": "rotate",
            onclick: () =>
              act(async () => {
                if (!confirm(`Rotate the key of "${s.name}"? The current key stops working.`)) return;
                const r = await api<StreamWithKey>("POST", `/v1/streams/${encodeURIComponent(s.id)}/key`);
                secrets.replaceChildren(secretPanel(r, "New key for"));
              }),
          },
          "Rotate key",
        ),
        " ",
        h(
          "button",
          {
            "data-action": "delete",
            onclick: () =>
              act(async () => {
                if (!confirm(`Delete "${s.name}"?`)) return;
                await api("DELETE", `/v1/streams/${encodeURIComponent(s.id)}`);
              }),
          },
          "Delete",
        ),
      ),
    );

  async function refresh(): Promise<void> {
    const items = await listAll<Stream>("/v1/streams");
    if (!polling.alive()) return;
    clear(body);
    if (items.length === 0) body.append(h("tr", {}, h("td", { colspan: 8 }, "No streams yet.")));
    for (const s of items) body.append(rowOf(s));
  }
  const polling = poll(REFRESH_MS, error, refresh);
  return polling.stop;
};
