import { InputError } from "../errors.ts";

/** Element types of the IDX format, by their type byte. */
const ELEMENT_TYPES = {
  0x08: { name: "uint8", size: 1 },
  0x09: { name: "int8", size: 1 },
  0x0b: { name: "int16", size: 2 },
  0x0c: { name: "int32", size: 4 },
  0x0d: { name: "float32", size: 4 },
  0x0e: { name: "float64", size: 8 },
} as const;

/** Name of an IDX element type. */
export type IdxElementType = (typeof ELEMENT_TYPES)[keyof typeof ELEMENT_TYPES]["name"];

/** A decoded IDX array: its element type, dimensions and elements in row-major order. */
export interface IdxArray {
  type: IdxElementType;
  dims: number[];
  data:
    | Uint8Array
    | Int8Array
    | Int16Array
    | Int32Array
    | Float32Array
    | Float64Array;
}

const GZIP_MAGIC = [0x1f, 0x8b];

/** True when the bytes start with the gzip magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] &&
    bytes[1] === GZIP_MAGIC[1];
}

/**
 * Decompresses gzip bytes with the runtime's `DecompressionStream`, fed the
 * whole input at once: it then returns one chunk, where a `Blob`'s stream
 * feeds it in small pieces, which is slower. A truncated or corrupt stream
 * is an `InputError` naming `source`.
 */
export async function gunzip(
  bytes: Uint8Array,
  source: string,
): Promise<Uint8Array> {
  const decompressor = new DecompressionStream("gzip");
  const writer = decompressor.writable.getWriter();
  const chunks: Uint8Array[] = [];
  const read = async () => {
    for await (const chunk of decompressor.readable) chunks.push(chunk);
  };
  try {
    await Promise.all([writer.write(bytes as Uint8Array<ArrayBuffer>), writer.close(), read()]);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InputError(
      `${source}: truncated or corrupt gzip data (${reason})`,
    );
  }
  if (chunks.length === 1) return chunks[0];
  const whole = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    whole.set(chunk, at);
    at += chunk.length;
  }
  return whole;
}

/**
 * Parses an uncompressed IDX file: magic `00 00 TT NN`, NN big-endian
 * 32-bit dimension sizes, then the big-endian elements. Any mismatch with
 * the format is an `InputError` naming `source`.
 */
export function parseIdx(bytes: Uint8Array, source: string): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new InputError(
      `${source}: not an IDX file (bad magic number, expected 00 00 at the start)`,
    );
  }
  const typeByte = bytes[2];
  const elementType = ELEMENT_TYPES[typeByte as keyof typeof ELEMENT_TYPES];
  if (!elementType) {
    throw new InputError(
      `${source}: unknown IDX element type 0x${typeByte.toString(16).padStart(2, "0")}`,
    );
  }
  const rank = bytes[3];
  if (rank === 0) {
    throw new InputError(`${source}: IDX header declares zero dimensions`);
  }
  const headerLength = 4 + 4 * rank;
  if (bytes.length < headerLength) {
    throw new InputError(
      `${source}: file ends inside the IDX header (${bytes.length} bytes, header needs ${headerLength})`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = headerLength + count * elementType.size;
  if (bytes.length !== expected) {
    const relation = bytes.length < expected ? "shorter" : "longer";
    throw new InputError(
      `${source}: data is ${relation} than the header says (${bytes.length} bytes, expected ${expected} for dimensions ${
        dims.join("×")
      } of ${elementType.name})`,
    );
  }
  return {
    type: elementType.name,
    dims,
    data: readElements(view, headerLength, count, elementType.name),
  };
}

function readElements(
  view: DataView,
  offset: number,
  count: number,
  type: IdxElementType,
): IdxArray["data"] {
  switch (type) {
    case "uint8":
      return new Uint8Array(view.buffer, view.byteOffset + offset, count)
        .slice();
    case "int8":
      return new Int8Array(view.buffer, view.byteOffset + offset, count)
        .slice();
    case "int16":
      return Int16Array.from(
        { length: count },
        (_, i) => view.getInt16(offset + 2 * i),
      );
    case "int32":
      return Int32Array.from(
        { length: count },
        (_, i) => view.getInt32(offset + 4 * i),
      );
    case "float32":
      return Float32Array.from(
        { length: count },
        (_, i) => view.getFloat32(offset + 4 * i),
      );
    case "float64":
      return Float64Array.from(
        { length: count },
        (_, i) => view.getFloat64(offset + 8 * i),
      );
  }
}

/**
 * Decodes IDX bytes, gzip-compressed or raw (detected by the gzip magic
 * bytes). `source` names the file in error messages.
 */
export async function decodeIdx(
  bytes: Uint8Array,
  source: string,
): Promise<IdxArray> {
  const raw = isGzip(bytes) ? await gunzip(bytes, source) : bytes;
  return parseIdx(raw, source);
}

/** Reads and decodes an IDX file (`.gz` or raw); a missing file is an `InputError`. */
export async function readIdxFile(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new InputError(`${path}: file not found`);
    }
    throw error;
  }
  return decodeIdx(bytes, path);
}
