/**
 * The peer of the glass bench: nginx with Debian's libnginx-mod-rtmp, set up the way its README's
 * adaptive-streaming example is (and how most guides run it): the publisher pushes to
 * `application live`, whose `exec` runs one ffmpeg that decodes once and encodes the same 3-rung
 * ladder as our built-in one (same x264 preset, rates, GOP and forced keyframes at each segment
 * boundary), pushing each rung back over RTMP to `application hls` (`hls on`, `hls_nested`,
 * `hls_variant` for the master playlist); nginx's http serves the HLS directory on an ephemeral
 * port. MPEG-TS segments, audio muxed into each rung (nginx-rtmp's HLS has no separate audio).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FFMPEG } from "../../shared/src/testkit/index.ts";
import { nginxBin } from "../lib/nginx.ts";

export const RTMP_MODULE = "/usr/lib/nginx/modules/ngx_rtmp_module.so";

export interface Rung {
  name: string;
  width: number;
  height: number;
  fps: number;
  bitrateKbps: number;
  preset: string;
}

/** Why the peer cannot run here, or undefined when it can. */
export function peerMissing(): string | undefined {
  if (!nginxBin()) return "nginx is not installed (apt-get install -y nginx libnginx-mod-rtmp)";
  if (!existsSync(RTMP_MODULE)) return `${RTMP_MODULE} is absent (apt-get install -y libnginx-mod-rtmp)`;
  if (!FFMPEG) return "ffmpeg is not installed";
  return undefined;
}

/** The exec'd ffmpeg: one input, one output per rung (nginx splits `exec` on spaces). */
function execLine(rtmp: number, rungs: Rung[], seg: number, audioKbps: number): string {
  const outs = rungs.map((r) => {
    const gop = Math.round(seg * r.fps);
    return [
      "-map 0:v:0 -map 0:a:0? -c:v libx264",
      `-preset ${r.preset} -b:v ${r.bitrateKbps}k -maxrate ${Math.round(r.bitrateKbps * 1.1)}k`,
      `-bufsize ${r.bitrateKbps * 2}k -g ${gop} -keyint_min ${gop} -sc_threshold 0`,
      `-force_key_frames expr:gte(t,n_forced*${seg}) -s ${r.width}x${r.height} -r ${r.fps}`,
      `-c:a aac -b:a ${audioKbps}k -ac 2 -ar 48000 -f flv rtmp://127.0.0.1:${rtmp}/hls/$name_${r.name}`,
    ].join(" ");
  });
  return `${FFMPEG} -hide_banner -loglevel error -i rtmp://127.0.0.1:${rtmp}/live/$name ${outs.join(" ")}`;
}

export function peerConfig(o: {
  dir: string;
  rtmp: number;
  http: number;
  rungs: Rung[];
  seg: number;
  windowSize: number;
  audioKbps: number;
}): string {
  const variants = o.rungs
    .map(
      (r) =>
        `hls_variant _${r.name} BANDWIDTH=${(r.bitrateKbps + o.audioKbps) * 1000},RESOLUTION=${r.width}x${r.height};`,
    )
    .join("\n      ");
  return `load_module ${RTMP_MODULE};
worker_processes 1;
daemon off;
pid ${join(o.dir, "nginx.pid")};
error_log ${join(o.dir, "error.log")} warn;
events { worker_connections 1024; }
rtmp {
  server {
    listen 127.0.0.1:${o.rtmp};
    chunk_size 4096;
    application live {
      live on;
      exec ${execLine(o.rtmp, o.rungs, o.seg, o.audioKbps)};
    }
    application hls {
      live on;
      hls on;
      hls_path ${join(o.dir, "www/hls")};
      hls_nested on;
      hls_fragment ${o.seg}s;
      hls_playlist_length ${o.seg * o.windowSize}s;
      ${variants}
    }
  }
}
http {
  access_log off;
  client_body_temp_path ${join(o.dir, "body")};
  proxy_temp_path ${join(o.dir, "proxy")};
  fastcgi_temp_path ${join(o.dir, "fastcgi")};
  uwsgi_temp_path ${join(o.dir, "uwsgi")};
  scgi_temp_path ${join(o.dir, "scgi")};
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
  server {
    listen 127.0.0.1:${o.http};
    root ${join(o.dir, "www")};
    location /hls/ {
      log_not_found off;
      add_header Cache-Control no-cache;
      add_header Access-Control-Allow-Origin "*" always;
    }
  }
}
`;
}

export interface Peer {
  pid: number;
  rtmpUrl: string;
  masterUrl(name: string): string;
  stop(): Promise<void>;
  errors(): string;
}

export function startPeer(o: {
  rtmp: number;
  http: number;
  rungs: Rung[];
  seg: number;
  windowSize: number;
  audioKbps: number;
}): Peer {
  const bin = nginxBin() as string;
  const dir = mkdtempSync(join(tmpdir(), "dionysia-bench-rtmp-"));
  // nginx's workers run as nobody when it starts as root: they write the HLS directory.
  chmodSync(dir, 0o755);
  for (const d of ["body", "proxy", "fastcgi", "uwsgi", "scgi", "www/hls"])
    mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, "www/hls"), 0o777);
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, peerConfig({ dir, ...o }));
  const check = spawnSync(bin, ["-t", "-p", dir, "-c", conf], { encoding: "utf8" });
  if (check.status !== 0) throw new Error(`nginx-rtmp config rejected:\n${check.stderr}`);
  const child: ChildProcess = spawn(bin, ["-p", dir, "-c", conf], { stdio: ["ignore", "ignore", "inherit"] });
  return {
    pid: child.pid as number,
    rtmpUrl: `rtmp://127.0.0.1:${o.rtmp}/live`,
    masterUrl: (name) => `http://127.0.0.1:${o.http}/hls/${name}.m3u8`,
    errors: () => spawnSync("tail", ["-n", "20", join(dir, "error.log")], { encoding: "utf8" }).stdout,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGQUIT");
        const t = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
