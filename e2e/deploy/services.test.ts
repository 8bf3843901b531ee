/** The unit and env-file readers the deploy test's init runs deployed services by (pure). */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnvFile, parseUnit } from "./services.ts";

describe("systemd unit and env file, as the test hosts' init reads them", () => {
  test("the playbook's origin unit: user, env file, working dir, command, restart policy", () => {
    // The template renders with plain substitutions: fill them as the role does.
    const text = readFileSync(
      join(import.meta.dir, "../../ansible/roles/origin/templates/dionysia-origin.service.j2"),
      "utf8",
    )
      .replaceAll("{{ dionysia_user }}", "dionysia")
      .replaceAll("{{ dionysia_root }}", "/opt/dionysia");
    expect(parseUnit(text)).toEqual({
      execStartPre: [],
      execStart: ["/opt/dionysia/current/dionysia", "origin"],
      user: "dionysia",
      environmentFiles: ["/etc/dionysia-origin.env"],
      workingDirectory: "/opt/dionysia/current",
      restart: "always",
      restartSec: 2,
    });
  });

  test("Debian's mosquitto unit: ExecStartPre lines, systemd's '-' prefix, on-failure, no user", () => {
    const unit = parseUnit(`[Unit]
Description=Mosquitto MQTT Broker
[Service]
Type=notify
ExecStartPre=-/bin/mkdir -m 740 -p /var/log/mosquitto
ExecStartPre=/bin/chown mosquitto /var/log/mosquitto
ExecStart=/usr/sbin/mosquitto -c /etc/mosquitto/mosquitto.conf
Restart=on-failure
[Install]
WantedBy=multi-user.target
`);
    expect(unit.execStartPre).toEqual([
      ["/bin/mkdir", "-m", "740", "-p", "/var/log/mosquitto"],
      ["/bin/chown", "mosquitto", "/var/log/mosquitto"],
    ]);
    expect(unit.execStart).toEqual(["/usr/sbin/mosquitto", "-c", "/etc/mosquitto/mosquitto.conf"]);
    expect(unit.user).toBeUndefined();
    expect(unit.restart).toBe("on-failure");
    expect(() => parseUnit("[Service]\nUser=x\n")).toThrow("no ExecStart");
  });

  test("env file: comments and blanks skipped, quotes removed, '=' kept in values", () => {
    expect(parseEnvFile('# managed\n\nA=1\nB="two words"\nURL=http://h:1/?a=b\n  ; note\nbroken\n')).toEqual({
      A: "1",
      B: "two words",
      URL: "http://h:1/?a=b",
    });
  });
});
