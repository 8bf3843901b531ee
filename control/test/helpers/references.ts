/**
 * What a page or asset makes a browser load: src/href attributes of HTML, url(...) and @import
 * of CSS (in files and in <style>), and module import specifiers of JS. Used to prove that
 * /swagger and /console need no host but their own (issue 13).
 */

export type AssetKind = "html" | "css" | "js";

const HTML_ATTR =
  /\s(?:src|href|data-url|poster|action|formaction)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi;
const SRCSET = /\ssrcset\s*=\s*(?:"([^"]*)"|'([^']*)')/gi;
const STYLE_BLOCK = /<style[^>]*>([\s\S]*?)<\/style>/gi;
const CSS_URL = /url\(\s*(?:"([^"]*)"|'([^']*)'|([^)\s]*))\s*\)/gi;
const CSS_IMPORT = /@import\s+(?:"([^"]*)"|'([^']*)')/gi;
/** `import x from "y"`, `import "y"`, `export * from "y"`, `import("y")` (string literals only). */
const JS_IMPORT =
  /(?:^|[;\s{}()])(?:import|export)\s*(?:[\w$*{}\s,]+?\s*from\s*)?["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)/gm;

function all(re: RegExp, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(re)) {
    const v = m.slice(1).find((g) => g !== undefined);
    if (v !== undefined && v !== "") out.push(v);
  }
  return out;
}

export function cssReferences(css: string): string[] {
  return [...all(CSS_URL, css), ...all(CSS_IMPORT, css)];
}

export function references(kind: AssetKind, text: string): string[] {
  if (kind === "css") return cssReferences(text);
  if (kind === "js") return all(JS_IMPORT, text);
  const styles = [...text.matchAll(STYLE_BLOCK)].map((m) => m[1] ?? "");
  const srcset = all(SRCSET, text).flatMap((s) => s.split(",").map((p) => p.trim().split(/\s+/)[0] ?? ""));
  return [...all(HTML_ATTR, text), ...srcset, ...styles.flatMap(cssReferences)].filter(Boolean);
}

/** Same origin as `base`, or nothing to load at all (a fragment, data:/blob:, javascript:). */
export function isLocal(ref: string, base: string): boolean {
  if (ref.startsWith("#") || /^(data|blob|about|javascript|mailto):/i.test(ref)) return true;
  const b = new URL(base);
  try {
    return new URL(ref, b).origin === b.origin;
  } catch {
    return false;
  }
}

export function kindOf(contentType: string | null, url: string): AssetKind | undefined {
  const ct = contentType ?? "";
  if (ct.includes("html")) return "html";
  if (ct.includes("css") || url.endsWith(".css")) return "css";
  if (ct.includes("javascript") || /\.m?js$/.test(url)) return "js";
  return undefined;
}

/**
 * Absolute `url(...)` targets inside a script (CSS that the script may inject at run time). Not
 * module loads, so reported apart: whether they are ever used depends on the script's options.
 */
export function embeddedCssUrls(js: string): string[] {
  return all(CSS_URL, js).filter((u) => /^(https?:)?\/\//i.test(u));
}

export interface Crawl {
  /** Every URL fetched (the pages and what they load, transitively). */
  fetched: string[];
  /** `asset -> reference` for every reference that leaves the origin. */
  external: string[];
  /** `asset -> url` for absolute url(...) inside scripts (see embeddedCssUrls). */
  embedded: string[];
}

/** Fetches the pages and, transitively, every same-origin asset they reference. */
export async function crawl(pages: string[]): Promise<Crawl> {
  const seen = new Set<string>();
  const external: string[] = [];
  const embedded: string[] = [];
  const queue = [...pages];
  while (queue.length > 0) {
    const url = queue.shift() as string;
    if (seen.has(url)) continue;
    seen.add(url);
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    const kind = kindOf(res.headers.get("content-type"), url);
    const text = await res.text();
    if (!kind) continue;
    if (kind === "js") for (const u of embeddedCssUrls(text)) embedded.push(`${url} -> ${u}`);
    for (const ref of references(kind, text)) {
      if (!isLocal(ref, url)) external.push(`${url} -> ${ref}`);
      // A browser resolves only URL-like module specifiers; in a minified bundle anything else
      // that matched is text that happens to read `import "..."`.
      else if (kind === "js" && !/^(\.{0,2}\/)/.test(ref)) continue;
      else if (!/^(#|data:|blob:|about:|javascript:|mailto:)/i.test(ref)) {
        const abs = new URL(ref, url);
        abs.hash = "";
        queue.push(abs.href);
      }
    }
  }
  return { fetched: [...seen], external, embedded };
}
