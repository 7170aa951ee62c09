import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";

/** Where Debian's dataset-fashion-mnist package puts the real files. */
export const REAL_DATA_DIR = "/usr/share/datasets/fashion-mnist";

const TYPE_BYTES = { uint8: 0x08, int16: 0x0b, int32: 0x0c, float32: 0x0d };

/** Encodes an IDX file (big-endian), for synthetic test inputs. */
export function encodeIdx(
  type: keyof typeof TYPE_BYTES,
  dims: number[],
  values: ArrayLike<number>,
): Uint8Array {
  const size = { uint8: 1, int16: 2, int32: 4, float32: 4 }[type];
  const bytes = new Uint8Array(4 + 4 * dims.length + values.length * size);
  const view = new DataView(bytes.buffer);
  bytes[2] = TYPE_BYTES[type];
  bytes[3] = dims.length;
  dims.forEach((dim, i) => view.setUint32(4 + 4 * i, dim));
  const offset = 4 + 4 * dims.length;
  for (let i = 0; i < values.length; i++) {
    const at = offset + i * size;
    if (type === "uint8") view.setUint8(at, values[i]);
    if (type === "int16") view.setInt16(at, values[i]);
    if (type === "int32") view.setInt32(at, values[i]);
    if (type === "float32") view.setFloat32(at, values[i]);
  }
  return bytes;
}

/** Gzip-compresses bytes with the runtime's `CompressionStream`. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Writes a small MNIST-style dataset (raw IDX) into `dir` and returns `dir`. */
export async function writeTinyDataset(
  dir: string,
  options: { count?: number; labels?: number[]; imageSide?: number } = {},
): Promise<string> {
  const count = options.count ?? 4;
  const side = options.imageSide ?? 28;
  const labels = options.labels ?? Array.from({ length: count }, (_, i) => i % 10);
  const images = Array.from({ length: count * side * side }, (_, i) => i % 256);
  await Deno.mkdir(dir, { recursive: true });
  for (const prefix of ["train", "t10k"]) {
    await Deno.writeFile(
      join(dir, `${prefix}-images-idx3-ubyte.gz`),
      await gzip(encodeIdx("uint8", [count, side, side], images)),
    );
    await Deno.writeFile(
      join(dir, `${prefix}-labels-idx1-ubyte.gz`),
      await gzip(encodeIdx("uint8", [labels.length], labels)),
    );
  }
  return dir;
}

/** True when the real Fashion-MNIST files are installed; logs loudly when not. */
export function hasRealData(): boolean {
  try {
    Deno.statSync(join(REAL_DATA_DIR, "train-images-idx3-ubyte.gz"));
    return true;
  } catch {
    console.warn(
      `SKIPPED: ${REAL_DATA_DIR} is missing (apt-get install dataset-fashion-mnist)`,
    );
    return false;
  }
}

/** Serves the files under `dir` on 127.0.0.1 (for loading a saved model over HTTP, as a browser does). */
export function serveDirectory(dir: string): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    try {
      const path = decodeURIComponent(new URL(request.url).pathname);
      return new Response(await Deno.readFile(join(dir, path)));
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

/** A tensor of `shape` with values drawn uniformly from [−1, 1) by `random`. */
export function uniformTensor(shape: number[], random: () => number): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => random() * 2 - 1), shape);
}
