/**
 * Operator commands for MQTT credentials (docs/security.md). Secrets come from the environment,
 * never from argv (which other users can read in `ps`):
 *
 *   bun control/src/mqtt/cli.ts node-password <nodeId>
 *     prints node <nodeId>'s MQTT password (needs MQTT_NODE_SECRET)
 *   bun control/src/mqtt/cli.ts mosquitto --out DIR [--install-dir DIR] --nodes a,b [--previous-nodes c] [--port 1883] [--host 0.0.0.0]
 *       [--control-users dionysia.control,...] [--router-users dionysia.router,...]
 *       [--dashboard-users ...] [--tls-cert F --tls-key F --tls-port 8883] [--ws-port 1884 [--ws-host H]]
 *       [--max-packet-bytes N]
 *     writes DIR/passwd (0600), DIR/acl and DIR/mosquitto.conf (needs MQTT_NODE_SECRET,
 *     MQTT_CONTROL_PASSWORD; MQTT_ROUTER_PASSWORD and MQTT_DASHBOARD_PASSWORD for those roles;
 *     MQTT_NODE_SECRET_PREVIOUS for --previous-nodes, the nodes a rotation has not reached yet);
 *     --ws-port adds an MQTT over WebSockets listener (browsers, dashboards: ADR 0070)
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { nodePassword, ROLE_USERNAMES } from "@dionysia/shared";
import { type MqttUser, mosquittoAclFile, mosquittoConf, mosquittoPasswordFile } from "./mosquitto.ts";

function need(name: string): string {
  const v = process.env[name];
  if (!v || v.length < 16) throw new Error(`${name} must be set (at least 16 characters)`);
  return v;
}

const list = (s: string | undefined) =>
  (s ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);

export function run(argv: string[]): string {
  const [cmd, ...rest] = argv;
  if (cmd === "node-password") {
    const id = rest[0];
    if (!id) throw new Error("usage: node-password <nodeId>");
    return nodePassword(need("MQTT_NODE_SECRET"), id);
  }
  if (cmd === "mosquitto") {
    const { values: a } = parseArgs({
      args: rest,
      options: {
        out: { type: "string" },
        // Where the files will live on the broker host, for the paths mosquitto.conf names
        // (the rollout writes them on the controller and copies them there).
        "install-dir": { type: "string" },
        nodes: { type: "string" },
        "previous-nodes": { type: "string" },
        port: { type: "string", default: "1883" },
        host: { type: "string" },
        "control-users": { type: "string", default: ROLE_USERNAMES.control },
        "router-users": { type: "string" },
        "dashboard-users": { type: "string" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "tls-port": { type: "string", default: "8883" },
        "ws-port": { type: "string" },
        "ws-host": { type: "string" },
        "max-packet-bytes": { type: "string", default: String(256 * 1024) },
      },
    });
    if (!a.out) throw new Error("--out DIR is required");
    const users = (names: string[], env: string): MqttUser[] =>
      names.length ? names.map((username) => ({ username, password: need(env) })) : [];
    const routerNames = a["router-users"]
      ? list(a["router-users"])
      : process.env.MQTT_ROUTER_PASSWORD
        ? [ROLE_USERNAMES.router]
        : [];
    const dashNames = a["dashboard-users"]
      ? list(a["dashboard-users"])
      : process.env.MQTT_DASHBOARD_PASSWORD
        ? [ROLE_USERNAMES.dashboard]
        : [];
    const nodes = list(a.nodes);
    const previous = list(a["previous-nodes"]);
    const spec = {
      nodes,
      nodeSecret: nodes.length ? need("MQTT_NODE_SECRET") : undefined,
      nodesOnPrevious: previous,
      nodeSecretPrevious: previous.length ? need("MQTT_NODE_SECRET_PREVIOUS") : undefined,
      control: users(list(a["control-users"]), "MQTT_CONTROL_PASSWORD"),
      routers: users(routerNames, "MQTT_ROUTER_PASSWORD"),
      dashboards: users(dashNames, "MQTT_DASHBOARD_PASSWORD"),
    };
    const out = resolve(a.out);
    mkdirSync(out, { recursive: true });
    const passwd = resolve(out, "passwd");
    writeFileSync(passwd, mosquittoPasswordFile(spec), { mode: 0o600 });
    chmodSync(passwd, 0o600);
    writeFileSync(resolve(out, "acl"), mosquittoAclFile(spec));
    const tls =
      a["tls-cert"] && a["tls-key"]
        ? {
            port: Number(a["tls-port"]),
            tls: { certFile: resolve(a["tls-cert"]), keyFile: resolve(a["tls-key"]) },
          }
        : undefined;
    const wsHost = a["ws-host"] ?? a.host;
    const ws = a["ws-port"]
      ? {
          port: Number(a["ws-port"]),
          protocol: "websockets" as const,
          ...(wsHost ? { host: wsHost } : {}),
        }
      : undefined;
    const at = a["install-dir"] ?? out;
    writeFileSync(
      resolve(out, "mosquitto.conf"),
      mosquittoConf({
        listeners: [
          { port: Number(a.port), ...(a.host ? { host: a.host } : {}) },
          ...(tls ? [tls] : []),
          ...(ws ? [ws] : []),
        ],
        passwordFile: resolve(at, "passwd"),
        aclFile: resolve(at, "acl"),
        maxPacketBytes: Number(a["max-packet-bytes"]),
      }),
    );
    return `wrote ${passwd}, ${resolve(out, "acl")}, ${resolve(out, "mosquitto.conf")} (${nodes.length + previous.length} nodes)`;
  }
  throw new Error("usage: cli.ts node-password <nodeId> | mosquitto --out DIR --nodes a,b ...");
}

if (import.meta.main) {
  try {
    process.stdout.write(`${run(process.argv.slice(2))}\n`);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
}
