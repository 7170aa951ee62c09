/**
 * The training page's local web server: the page, tfjs for the browser
 * (from the locked npm packages, nothing fetched from the internet), the
 * live feed, the first test images and the run's latest checkpoint.
 *
 * @module
 */
import { join } from "node:path";
import tfBundle from "@tensorflow/tfjs/dist/tf.min.js" with { type: "text" };
import webgpuBundle from "@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js" with {
  type: "text",
};
import pageHtml from "./page/index.html" with { type: "text" };
import pageScript from "./page/page.js" with { type: "text" };
import pageStyle from "./page/page.css" with { type: "text" };
import applyEventScript from "./page/apply_event.js" with { type: "text" };
import paddedMaxPoolScript from "../model/graph/padded_max_pool.js" with { type: "text" };
import { IMAGE_SIZE, type Split } from "../data/load.ts";
import { CHECKPOINT_DIR } from "../run_folder/checkpoint.ts";
import type { ViewFeed } from "./feed.ts";
import { isOwnHost } from "./own_host.ts";

/** Test images the page can show and classify (the first of the split). */
export const PAGE_TEST_IMAGES = 1000;

/** Options of {@link serveView}. */
export interface ViewServerOptions {
  feed: ViewFeed;
  runDir: string;
  /** The test split; the page gets its first {@link PAGE_TEST_IMAGES}. */
  test: Split;
  /** 0 (the default): any free port. */
  port?: number;
}

/** A running page server. */
export interface ViewServer {
  /** The page's address on the loopback interface. */
  url: string;
  close(): Promise<void>;
}

const STATIC: Record<string, [string, string]> = {
  "/": [pageHtml, "text/html; charset=utf-8"],
  "/page.js": [pageScript, "text/javascript; charset=utf-8"],
  "/page.css": [pageStyle, "text/css; charset=utf-8"],
  "/apply_event.js": [applyEventScript, "text/javascript; charset=utf-8"],
  "/padded_max_pool.js": [paddedMaxPoolScript, "text/javascript; charset=utf-8"],
  "/tf.min.js": [tfBundle, "text/javascript; charset=utf-8"],
  "/tf-backend-webgpu.min.js": [webgpuBundle, "text/javascript; charset=utf-8"],
};

/** The checkpoint files a browser loads with `tf.loadLayersModel`. */
const CHECKPOINT_FILES: Record<string, string> = {
  "/checkpoint/model.json": "application/json",
  "/checkpoint/weights.bin": "application/octet-stream",
};

/** `[count: uint32 LE][labels: count bytes][images: count × 784 bytes]`. */
function testImageBytes(test: Split): Uint8Array {
  const count = Math.min(PAGE_TEST_IMAGES, test.count);
  const pixels = IMAGE_SIZE * IMAGE_SIZE;
  const bytes = new Uint8Array(4 + count + count * pixels);
  new DataView(bytes.buffer).setUint32(0, count, true);
  bytes.set(test.labels.subarray(0, count), 4);
  bytes.set(test.images.subarray(0, count * pixels), 4 + count);
  return bytes;
}

/** What a request addressed to another name gets: 421 Misdirected Request, and nothing else. */
function misdirected(): Response {
  return new Response(null, { status: 421 });
}

/**
 * Serves the training page on 127.0.0.1 (never on other interfaces: the
 * run's files are for this machine's user), and only to requests addressed
 * to it there (see `isOwnHost`): any other `Host` gets 421 on every route.
 */
export function serveView(options: ViewServerOptions): Promise<ViewServer> {
  const { feed, runDir } = options;
  const images = testImageBytes(options.test);
  const headers = (type: string) => ({ "content-type": type, "cache-control": "no-store" });
  const handler = async (request: Request): Promise<Response> => {
    const { pathname } = new URL(request.url);
    if (request.method !== "GET") return new Response("GET only", { status: 405 });
    if (pathname in STATIC) {
      const [body, type] = STATIC[pathname];
      return new Response(body, { headers: headers(type) });
    }
    if (pathname === "/events") {
      return new Response(feed.stream(), { headers: headers("text/event-stream") });
    }
    if (pathname === "/test-images") {
      return new Response(images.slice(), { headers: headers("application/octet-stream") });
    }
    if (pathname in CHECKPOINT_FILES) {
      const path = join(runDir, CHECKPOINT_DIR, pathname.slice("/checkpoint/".length));
      try {
        return new Response(await Deno.readFile(path), {
          headers: headers(CHECKPOINT_FILES[pathname]),
        });
      } catch {
        return new Response("no checkpoint yet", { status: 404 });
      }
    }
    return new Response("not found", { status: 404 });
  };
  return new Promise((resolve) => {
    const server: Deno.HttpServer<Deno.NetAddr> = Deno.serve(
      {
        hostname: "127.0.0.1",
        port: options.port ?? 0,
        onListen: ({ port }) =>
          resolve({
            url: `http://127.0.0.1:${port}/`,
            close: async () => {
              feed.close();
              await server.shutdown();
            },
          }),
      },
      (request): Response | Promise<Response> =>
        isOwnHost(request.headers.get("host"), server.addr.port) ? handler(request) : misdirected(),
    );
  });
}
