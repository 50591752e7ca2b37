// Copies the socket.io client from node_modules into the store page's static folder.
// The copy is committed, so `make run` and the browser tests need neither npm nor a CDN;
// run `make widget` after changing the version in package.json.
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = join(root, "node_modules", "socket.io-client");
const out = join(root, "demo_backend", "static", "chat", "vendor");
mkdirSync(out, { recursive: true });
copyFileSync(join(pkg, "dist", "socket.io.min.js"), join(out, "socket.io.min.js"));
copyFileSync(join(pkg, "LICENSE"), join(out, "socket.io-client.LICENSE"));
const { version } = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8"));
console.log(`vendored socket.io-client ${version} into ${out}`);
