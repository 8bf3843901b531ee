/** A few DOM helpers: the console is small enough to need no framework. */

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | null | undefined>;

/** `h("button", { onclick: fn, class: "x" }, "label")`: on* attributes become listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el: Element): void {
  el.replaceChildren();
}

export function fmtBps(bps: number | undefined): string {
  if (bps === undefined || !Number.isFinite(bps)) return "–";
  if (bps >= 1e9) return `${(bps / 1e9).toFixed(2)} Gb/s`;
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)} Mb/s`;
  if (bps >= 1e3) return `${(bps / 1e3).toFixed(0)} kb/s`;
  return `${Math.round(bps)} b/s`;
}

export function fmtNum(n: number | undefined, digits = 1, unit = ""): string {
  return n === undefined || !Number.isFinite(n) ? "–" : `${n.toFixed(digits)}${unit}`;
}

/** A view: mounted into the main area, returns what stops its timers and connections. */
export type View = (root: HTMLElement, args: string[]) => (() => void) | undefined;

/**
 * Runs `refresh` now and every `ms` after the last one finished (never two at once), showing a
 * failure in `error` until the next success. `alive()` says whether the view still stands (for
 * what `refresh` does after its awaits); `stop()` ends it.
 */
export function poll(
  ms: number,
  error: HTMLElement,
  refresh: () => Promise<void>,
): { alive: () => boolean; stop: () => void } {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const loop = async () => {
    try {
      await refresh();
      error.textContent = "";
    } catch (err) {
      error.textContent = (err as Error).message;
    }
    if (!stopped) timer = setTimeout(loop, ms);
  };
  void loop();
  return {
    alive: () => !stopped,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
