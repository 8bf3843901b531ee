/**
 * docs/telemetry.md's topic reference is generated from the TypeBox schemas, the topic names and
 * the permission table (shared/src/telemetry-doc.ts): this fails when the page is out of date.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { PERMISSIONS } from "../src/mqtt-auth.ts";
import { NodeTelemetry } from "../src/schemas/mqtt.ts";
import { fieldRows, filterOf, TELEMETRY_DOC, TOPIC_DOCS, withReference } from "../src/telemetry-doc.ts";

describe("docs/telemetry.md", () => {
  const page = readFileSync(TELEMETRY_DOC, "utf8");

  test("its generated part is up to date (else: bun shared/src/telemetry-doc.ts)", () => {
    expect(page).toBe(withReference(page));
  });

  test("every topic a dashboard may read has its payload table; every filter it may use is listed", () => {
    for (const f of PERMISSIONS.dashboard.subscribe) {
      expect(page).toContain(`- \`${f}\``);
      const doc = TOPIC_DOCS.find((d) => filterOf(d.topic) === f);
      expect(doc).toBeDefined();
      expect(page).toContain(`### \`${doc?.topic}\``);
    }
  });

  test("every payload field, nested ones included, is a row with its type", () => {
    const paths = fieldRows(NodeTelemetry).map((r) => r.path);
    expect(paths).toEqual(expect.arrayContaining(["cpu", "memory.usedBytes", "streams[].speed"]));
    for (const r of fieldRows(NodeTelemetry)) expect(page).toContain(`| \`${r.path}\` | ${r.type} |`);
  });

  test("a page without the markers is refused, not silently rewritten", () => {
    expect(() => withReference("# no markers")).toThrow(/markers/);
  });
});
