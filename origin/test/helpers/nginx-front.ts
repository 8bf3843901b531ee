/**
 * nginx in front of an origin, from the ansible role's own template (nginx-live.conf.j2), as the
 * rollout installs it with `origin_nginx_front`. The origin's data dir must be `{top}/data/origin`.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, waitFor } from "@dionysia/shared/testkit";

/** The template uses plain `{{ var }}` / `{{ var | default(x) }}` substitutions only. */
export function renderJinja(template: string, vars: Record<string, string | number>): string {
  const out = template.replace(
    /\{\{\s*(\w+)\s*(?:\|\s*default\(([^)]*)\)\s*)?\}\}/g,
    (_, name: string, dflt?: string) => String(vars[name] ?? dflt ?? `{{UNSET ${name}}}`),
  );
  if (/\{\{|\{%/.test(out)) throw new Error(`template needs more than plain substitutions:\n${out}`);
  return out;
}

export interface NginxFront {
  base: string;
  stop(): Promise<void>;
}

export async function startNginxFront(
  nginxBin: string,
  top: string,
  originPort: number,
): Promise<NginxFront> {
  const port = await freePort();
  const conf = renderJinja(
    readFileSync(join(import.meta.dir, "../../../ansible/roles/origin/templates/nginx-live.conf.j2"), "utf8"),
    { dionysia_root: top, origin_nginx_port: `127.0.0.1:${port}`, origin_port: originPort },
  );
  const ngx = join(top, "nginx");
  for (const d of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(ngx, d), { recursive: true });
  writeFileSync(join(ngx, "live.conf"), conf);
  writeFileSync(
    join(ngx, "nginx.conf"),
    `worker_processes 1;
daemon off;
pid ${ngx}/nginx.pid;
error_log ${ngx}/error.log warn;
events { worker_connections 64; }
http {
  client_body_temp_path ${ngx}/body;
  proxy_temp_path ${ngx}/proxy;
  fastcgi_temp_path ${ngx}/fastcgi;
  uwsgi_temp_path ${ngx}/uwsgi;
  scgi_temp_path ${ngx}/scgi;
  include ${ngx}/live.conf;
}
`,
  );
  const check = Bun.spawnSync([nginxBin, "-t", "-p", ngx, "-c", join(ngx, "nginx.conf")]);
  if (check.exitCode !== 0) throw new Error(`nginx -t failed:\n${check.stderr.toString()}`);
  const nginx = Bun.spawn([nginxBin, "-p", ngx, "-c", join(ngx, "nginx.conf")], {
    stdout: "ignore",
    stderr: "inherit",
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor("nginx in front of the origin", async () => (await fetch(`${base}/health`)).ok, 10_000, 50);
  return {
    base,
    async stop() {
      nginx.kill("SIGQUIT");
      const t = setTimeout(() => nginx.kill("SIGKILL"), 5000);
      await nginx.exited;
      clearTimeout(t);
    },
  };
}
