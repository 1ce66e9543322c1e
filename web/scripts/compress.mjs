// Writes a gzip copy beside each text asset of dist/ so the console crate can
// send it to browsers that accept gzip (most of the bundle is ECharts and
// CodeMirror: ~3.5x smaller compressed). Node's zlib; no dependency.
import { readdirSync, readFileSync, writeFileSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { gzipSync, constants } from "node:zlib";

const dist = new URL("../dist/", import.meta.url).pathname;
let before = 0, after = 0;
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) { walk(p); continue; }
    if (name.endsWith(".gz")) { unlinkSync(p); continue; }
    if (!/\.(js|css|html|svg|json)$/.test(name)) continue;
    const data = readFileSync(p);
    if (data.length < 1024) continue;
    const gz = gzipSync(data, { level: constants.Z_BEST_COMPRESSION });
    if (gz.length >= data.length * 0.9) continue;
    writeFileSync(p + ".gz", gz);
    before += data.length;
    after += gz.length;
  }
}
walk(dist);
console.log(`gzip copies: ${(before / 1024).toFixed(0)} KiB -> ${(after / 1024).toFixed(0)} KiB`);
