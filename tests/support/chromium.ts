/**
 * A headless Chromium driven over the DevTools protocol (a WebSocket and
 * a few commands), for the tests of the training page.
 *
 * @module
 */

/** Where Debian's `chromium` package (and others) put the browser. */
const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/** The browser's path, or `undefined` where none is installed. */
export function findChromium(): string | undefined {
  return CANDIDATES.find((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  });
}

/** One page of a running browser. */
export interface BrowserPage {
  navigate(url: string): Promise<void>;
  /** The value of a JavaScript expression in the page (awaited when a promise). */
  evaluate<T>(expression: string): Promise<T>;
  /**
   * Polls `expression` until it is truthy (an exception counts as not yet:
   * the page may still be loading), failing after `timeoutMs` with `what`.
   */
  waitFor<T>(expression: string, what: string, timeoutMs?: number): Promise<T>;
  /** Presses the mouse at the first point, moves it through the others and releases it. */
  drag(points: [number, number][]): Promise<void>;
  /** A PNG of the whole page, beyond the window. */
  screenshot(): Promise<Uint8Array>;
  close(): Promise<void>;
}

async function readUntil(stream: ReadableStream<Uint8Array>, pattern: RegExp): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    text += decoder.decode(chunk, { stream: true });
    const match = text.match(pattern);
    if (match) return match[1];
  }
  throw new Error(`the browser exited before printing ${pattern}: ${text}`);
}

/** Starts a headless browser with a fresh profile and opens one page of 1280×900. */
export async function openBrowserPage(chromium: string): Promise<BrowserPage> {
  const profile = await Deno.makeTempDir({ prefix: "chromium-profile-" });
  const child = new Deno.Command(chromium, {
    args: [
      "--headless=new",
      "--no-sandbox",
      "--no-first-run",
      "--window-size=1280,900",
      `--user-data-dir=${profile}`,
      "--remote-debugging-port=0",
      "about:blank",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const browserSocket = await readUntil(child.stderr, /DevTools listening on (ws:\/\/\S+)/);
  const port = new URL(browserSocket).port;
  const targets: { type: string; webSocketDebuggerUrl: string }[] =
    await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const socket = new WebSocket(targets.find((t) => t.type === "page")!.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let next = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  socket.onmessage = (message) => {
    const reply = JSON.parse(message.data);
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    if (reply.error) waiter.reject(new Error(JSON.stringify(reply.error)));
    else waiter.resolve(reply.result);
  };
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });
  const evaluate = async <T>(expression: string): Promise<T> => {
    const result = await send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    });
    if (result.exceptionDetails) {
      throw new Error(`in the page: ${JSON.stringify(result.exceptionDetails)}`);
    }
    return (result.result as { value: T }).value;
  };
  await send("Page.enable");
  return {
    navigate: async (url) => void await send("Page.navigate", { url }),
    evaluate,
    waitFor: async <T>(expression: string, what: string, timeoutMs = 60_000) => {
      const until = Date.now() + timeoutMs;
      let last = "";
      while (Date.now() < until) {
        try {
          const value = await evaluate<T>(expression);
          if (value) return value;
        } catch (error) {
          last = ` (last: ${(error as Error).message})`;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      throw new Error(`the page did not show ${what} within ${timeoutMs / 1000} s${last}`);
    },
    drag: async (points) => {
      const mouse = (type: string, [x, y]: [number, number]) =>
        send("Input.dispatchMouseEvent", { type, x, y, button: "left", clickCount: 1 });
      await mouse("mousePressed", points[0]);
      for (const point of points.slice(1)) await mouse("mouseMoved", point);
      await mouse("mouseReleased", points.at(-1)!);
    },
    screenshot: async () => {
      const { cssContentSize } = await send("Page.getLayoutMetrics");
      const { width, height } = cssContentSize as { width: number; height: number };
      const { data } = await send("Page.captureScreenshot", {
        format: "png",
        captureBeyondViewport: true,
        clip: { x: 0, y: 0, width, height, scale: 1 },
      });
      return Uint8Array.from(atob(data as string), (c) => c.charCodeAt(0));
    },
    close: async () => {
      socket.close();
      child.kill();
      await child.status;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}
