/**
 * nginx with our own temp config on a loopback port (never the system service): serves `root`
 * with the same cache and CORS headers the origin sends, access log off, sendfile on.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Nginx {
  url: string;
  stop(): Promise<void>;
}

export function nginxBin(): string | undefined {
  for (const p of ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"]) {
    if (spawnSync(p, ["-v"]).status === 0) return p;
  }
  return undefined;
}

export function nginxConfig(o: {
  dir: string;
  root: string;
  port: number;
  workers: number | "auto";
}): string {
  const cors = `add_header Access-Control-Allow-Origin "*" always;
      add_header Access-Control-Expose-Headers "Content-Length, Content-Range, Accept-Ranges, ETag, Age" always;`;
  return `worker_processes ${o.workers};
daemon off;
pid ${join(o.dir, "nginx.pid")};
error_log ${join(o.dir, "error.log")} warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path ${join(o.dir, "body")};
  proxy_temp_path ${join(o.dir, "proxy")};
  fastcgi_temp_path ${join(o.dir, "fastcgi")};
  uwsgi_temp_path ${join(o.dir, "uwsgi")};
  scgi_temp_path ${join(o.dir, "scgi")};
  types {
    application/vnd.apple.mpegurl m3u8;
    application/dash+xml mpd;
    video/iso.segment m4s;
    video/mp4 mp4;
  }
  server {
    listen 127.0.0.1:${o.port};
    root ${o.root};
    location ~ \\.(m3u8|mpd)$ {
      add_header Cache-Control "public, max-age=1";
      ${cors}
    }
    location /live/ {
      add_header Cache-Control "public, max-age=31536000, immutable";
      ${cors}
    }
  }
}
`;
}

export async function startNginx(o: {
  root: string;
  port: number;
  workers: number | "auto";
}): Promise<Nginx> {
  const bin = nginxBin();
  if (!bin) throw new Error("nginx is not installed: apt-get install -y nginx");
  const dir = mkdtempSync(join(tmpdir(), "dionysia-bench-nginx-"));
  for (const d of ["body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, d));
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, nginxConfig({ dir, ...o }));
  const check = spawnSync(bin, ["-t", "-p", dir, "-c", conf], { encoding: "utf8" });
  if (check.status !== 0) throw new Error(`nginx config rejected:\n${check.stderr}`);
  const child: ChildProcess = spawn(bin, ["-p", dir, "-c", conf], { stdio: ["ignore", "ignore", "inherit"] });
  return {
    url: `http://127.0.0.1:${o.port}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        // QUIT: graceful shutdown of master and workers; KILL of the master as a backstop.
        child.kill("SIGQUIT");
        const t = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
