/**
 * A strict reader for the XML the MPD renderer writes (elements, attributes, no text): enough to
 * test it as a tree, and it refuses what a real parser would (unclosed or crossed tags, duplicate
 * attributes, bare `&` or `<` in a value). No XML parser is a dependency of the repository.
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
}

const ENTITIES: Record<string, string> = { amp: "&", quot: '"', lt: "<", gt: ">", apos: "'" };

export function parseXml(text: string): XmlElement {
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`${why} at ${i}: ${JSON.stringify(text.slice(i, i + 40))}`);
  };
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  ws();
  if (text.startsWith("<?xml", i)) {
    const end = text.indexOf("?>", i);
    if (end < 0) fail("unterminated declaration");
    i = end + 2;
  }
  const element = (): XmlElement => {
    ws();
    if (text[i] !== "<") fail("expected <");
    i++;
    const name = /^[A-Za-z_][\w.:-]*/.exec(text.slice(i))?.[0] ?? fail("bad element name");
    i += name.length;
    const attrs: Record<string, string> = {};
    for (;;) {
      ws();
      if (text.startsWith("/>", i)) {
        i += 2;
        return { name, attrs, children: [] };
      }
      if (text[i] === ">") {
        i++;
        break;
      }
      const m = /^([A-Za-z_][\w.:-]*)="([^"<]*)"/.exec(text.slice(i)) ?? fail("bad attribute");
      if (m[1]! in attrs) fail(`duplicate attribute ${m[1]}`);
      attrs[m[1]!] = m[2]!.replace(/&([a-z]+);|&/g, (all, e: string | undefined) =>
        e && ENTITIES[e] !== undefined ? ENTITIES[e] : fail(`bare ${all}`),
      );
      i += m[0].length;
    }
    const children: XmlElement[] = [];
    for (;;) {
      ws();
      if (text.startsWith("</", i)) {
        const close = `</${name}>`;
        if (!text.startsWith(close, i)) fail(`expected ${close}`);
        i += close.length;
        return { name, attrs, children };
      }
      if (text[i] !== "<") fail("unexpected text");
      children.push(element());
    }
  };
  const root = element();
  ws();
  if (i !== text.length) fail("trailing content");
  return root;
}

/** Every descendant (or self) with this name, document order. */
export function all(e: XmlElement, name: string): XmlElement[] {
  const out: XmlElement[] = e.name === name ? [e] : [];
  for (const c of e.children) out.push(...all(c, name));
  return out;
}

export function one(e: XmlElement, name: string): XmlElement {
  const found = all(e, name);
  if (found.length !== 1) throw new Error(`expected one <${name}>, found ${found.length}`);
  return found[0]!;
}

/** xs:duration "PT1.5S" (the renderer writes seconds only) in seconds. */
export function seconds(d: string | undefined): number {
  const m = /^PT(\d+(?:\.\d+)?)S$/.exec(d ?? "");
  if (!m) throw new Error(`not a PT…S duration: ${d}`);
  return Number(m[1]);
}

/** A SegmentTimeline expanded: each segment's t and d, S@t / S@d / S@r applied (ISO 23009-1 5.3.9.6). */
export function expandTimeline(timeline: XmlElement): { t: number; d: number }[] {
  const out: { t: number; d: number }[] = [];
  let t = 0;
  for (const s of timeline.children) {
    if (s.name !== "S") throw new Error(`unexpected <${s.name}> in SegmentTimeline`);
    if (s.attrs.t !== undefined) t = Number(s.attrs.t);
    const d = Number(s.attrs.d);
    for (let k = 0; k <= Number(s.attrs.r ?? 0); k++) {
      out.push({ t, d });
      t += d;
    }
  }
  return out;
}
