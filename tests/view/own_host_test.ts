/**
 * The page's server answers only requests addressed to 127.0.0.1:PORT,
 * localhost:PORT or [::1]:PORT: a forged `Host` (DNS rebinding) gets 421
 * and no body on every route, the event stream included. Real requests,
 * written on a TCP connection (fetch does not let a page forge `Host`).
 */
import { assert, assertEquals } from "../support/assert.ts";
import { rawRequest } from "../support/reliability/raw_http.ts";
import { TINY_CONFIG } from "../support/run_folders.ts";
import { isOwnHost } from "../../view/own_host.ts";
import { ViewFeed } from "../../view/feed.ts";
import { serveView, type ViewServer } from "../../view/server.ts";

const ROUTES = [
  "/",
  "/page.js",
  "/tf.min.js",
  "/events",
  "/test-images",
  "/checkpoint/model.json",
  "/checkpoint/weights.bin",
  "/nothing-here",
  "/../../etc/passwd",
];

async function withServer(run: (port: number) => Promise<void>): Promise<void> {
  const runDir = await Deno.makeTempDir();
  const feed = new ViewFeed({
    run: runDir,
    config: TINY_CONFIG,
    classes: ["a", "b"],
    lines: [`local path ${runDir}`],
    history: [],
    checkpoint: 0,
    status: "training",
  });
  const test = { images: new Uint8Array(2 * 784), labels: new Uint8Array(2), count: 2 };
  const server: ViewServer = await serveView({ feed, runDir, test });
  try {
    await run(Number(new URL(server.url).port));
  } finally {
    await server.close();
    await Deno.remove(runDir, { recursive: true });
  }
}

Deno.test("a forged Host gets 421 and nothing else, on every route and method", async () => {
  await withServer(async (port) => {
    const forged = [
      "evil.example",
      `evil.example:${port}`,
      `127.0.0.1.evil.example:${port}`,
      `localhost.evil.example:${port}`,
      `127.0.0.1:${port + 1}`,
      "127.0.0.1",
      "localhost",
      `127.0.0.2:${port}`,
      `[::2]:${port}`,
      `127.0.0.1:${port}@evil.example`,
    ];
    for (const host of forged) {
      for (const path of ROUTES) {
        for (const method of ["GET", "POST"]) {
          const answer = await rawRequest(port, path, [`Host: ${host}`], { method });
          const what = `${method} ${path} with Host ${host}`;
          assertEquals(answer.status, 421, `${what}: ${answer.status}`);
          assertEquals(answer.body, "", `${what} has a body`);
          assert(!("content-type" in answer.headers), `${what}: ${answer.headers["content-type"]}`);
        }
      }
    }
  });
});

Deno.test("a request without Host, as HTTP/1.0 may send it, gets 421", async () => {
  await withServer(async (port) => {
    for (const path of ["/", "/events"]) {
      const answer = await rawRequest(port, path, [], { version: "HTTP/1.0" });
      assertEquals(answer.status, 421, `${path}: ${answer.status}`);
      assertEquals(answer.body, "");
    }
  });
});

Deno.test("the page's own addresses are served, the event stream included", async () => {
  await withServer(async (port) => {
    for (const name of ["127.0.0.1", "localhost", "LocalHost", "[::1]"]) {
      const host = `Host: ${name}:${port}`;
      const page = await rawRequest(port, "/", [host]);
      assertEquals(page.status, 200, `${name}: ${page.status}`);
      assert(page.body.includes("<html") || page.body.includes("<!DOCTYPE"), page.body);
      const events = await rawRequest(port, "/events", [host], { until: /\n\n/ });
      assertEquals(events.status, 200);
      assert(/"type":"snapshot"/.test(events.body), events.body);
    }
  });
});

Deno.test("isOwnHost: port 80 may go without its number, as browsers send it", () => {
  assert(isOwnHost("127.0.0.1", 80) && isOwnHost("localhost:80", 80));
  assert(!isOwnHost("127.0.0.1", 8080) && !isOwnHost(null, 80) && !isOwnHost("evil", 80));
});
