import { createHash } from "node:crypto";
import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { datasetFileNames, DATASETS } from "../../data/datasets.ts";
import { downloadFile } from "../../data/download.ts";
import { openDataset } from "../../data/source.ts";
import { InputError } from "../../errors.ts";
import { writeTinyDataset } from "../support/test_data.ts";

const MNIST = DATASETS.mnist;

type Mode = "good" | "corrupt";

/** Serves the files of `dir` on 127.0.0.1; in "corrupt" mode one byte of each is flipped. */
function serveFiles(dir: string, mode: () => Mode) {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const name = new URL(request.url).pathname.slice(1);
    try {
      const bytes = await Deno.readFile(join(dir, name));
      if (mode() === "corrupt") bytes[20] ^= 1;
      return new Response(bytes as BodyInit);
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

/** A raw TCP server that announces 1000 bytes, sends 100 and hangs up. */
function serveDroppedConnection(): { port: number; close: () => Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    for await (const connection of listener) {
      await connection.read(new Uint8Array(4096));
      const head = "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n";
      await connection.write(new TextEncoder().encode(head));
      await connection.write(new Uint8Array(100));
      connection.close();
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close: async () => {
      listener.close();
      await done.catch(() => {});
    },
  };
}

async function md5Of(dir: string): Promise<Record<string, string>> {
  const sums: Record<string, string> = {};
  for (const name of datasetFileNames(MNIST)) {
    sums[name] = createHash("md5").update(await Deno.readFile(join(dir, name))).digest("hex");
  }
  return sums;
}

async function withServer(
  run: (
    context: {
      baseUrl: string;
      md5: Record<string, string>;
      setMode: (mode: Mode) => void;
      target: string;
    },
  ) => Promise<void>,
): Promise<void> {
  const source = await writeTinyDataset(await Deno.makeTempDir(), { count: 5 });
  const target = await Deno.makeTempDir();
  let mode: Mode = "good";
  const server = serveFiles(source, () => mode);
  try {
    await run({
      baseUrl: `http://127.0.0.1:${server.addr.port}/`,
      md5: await md5Of(source),
      setMode: (next) => (mode = next),
      target,
    });
  } finally {
    await server.shutdown();
    await Deno.remove(source, { recursive: true });
    await Deno.remove(target, { recursive: true });
  }
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("openDataset downloads the missing files into the cache, verified, with progress", async () => {
  await withServer(async ({ baseUrl, md5, target }) => {
    const previous = Deno.env.get("XDG_CACHE_HOME");
    Deno.env.set("XDG_CACHE_HOME", target);
    const progress: string[] = [];
    try {
      const dataset = await openDataset({
        dataset: "mnist",
        download: {
          baseUrl,
          md5,
          onProgress: (p) => progress.push(`${p.file} ${p.received}/${p.total}`),
        },
      });
      assertEquals(dataset.train.count, 5);
      assertEquals(dataset.dir, join(target, "fashion-webgpu", "mnist"));
      assertEquals(await listDir(dataset.dir), [...datasetFileNames(MNIST)].sort());
      assert(
        progress.some((line) => line.startsWith("train-images-idx3-ubyte.gz ")),
        "no progress reported",
      );
    } finally {
      if (previous === undefined) Deno.env.delete("XDG_CACHE_HOME");
      else Deno.env.set("XDG_CACHE_HOME", previous);
    }
  });
});

Deno.test("a corrupt download fails its checksum and leaves nothing behind", async () => {
  await withServer(async ({ baseUrl, md5, setMode, target }) => {
    setMode("corrupt");
    const error = await assertRejects(
      () => downloadFile(MNIST, "train-labels-idx1-ubyte.gz", target, { baseUrl, md5 }),
      InputError,
    );
    assert(/checksum mismatch/.test(error.message), error.message);
    assertEquals(await listDir(target), []);
  });
});

Deno.test("a dropped connection fails and leaves nothing behind", async () => {
  const server = serveDroppedConnection();
  const target = await Deno.makeTempDir();
  try {
    const error = await assertRejects(
      () =>
        downloadFile(MNIST, "train-images-idx3-ubyte.gz", target, {
          baseUrl: `http://127.0.0.1:${server.port}/`,
        }),
      InputError,
    );
    assert(
      /train-images-idx3-ubyte\.gz: download (interrupted|ended)/.test(error.message),
      error.message,
    );
    assertEquals(await listDir(target), []);
  } finally {
    await server.close();
    await Deno.remove(target, { recursive: true });
  }
});

Deno.test("without connectivity the error lists the places searched and how to supply the files", async () => {
  const cache = await Deno.makeTempDir();
  const previous = Deno.env.get("XDG_CACHE_HOME");
  Deno.env.set("XDG_CACHE_HOME", cache);
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = closed.addr.port;
  closed.close();
  try {
    const error = await assertRejects(
      () => openDataset({ dataset: "mnist", download: { baseUrl: `http://127.0.0.1:${port}/` } }),
      InputError,
    );
    const cacheDir = join(cache, "fashion-webgpu", "mnist");
    assert(
      error.message.startsWith(
        `mnist not found in ${cacheDir}, /usr/share/datasets/mnist and the download failed`,
      ),
      error.message,
    );
    assert(error.message.includes("--data-dir DIR"), error.message);
    assertEquals(await listDir(cacheDir), []);
  } finally {
    if (previous === undefined) Deno.env.delete("XDG_CACHE_HOME");
    else Deno.env.set("XDG_CACHE_HOME", previous);
    await Deno.remove(cache, { recursive: true });
  }
});
