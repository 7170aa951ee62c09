import { assertEquals, assertRejects } from "../support/assert.ts";
import { decodeIdx } from "../../data/idx.ts";
import { InputError } from "../../errors.ts";
import { encodeIdx, gzip } from "../support/test_data.ts";

Deno.test("decodes raw and gzipped IDX of every element type, big-endian", async () => {
  const cases = [
    { type: "uint8", values: [0, 1, 255, 7, 8, 9] },
    { type: "int16", values: [-300, 2, 32767, -32768, 0, 5] },
    { type: "int32", values: [-70000, 1, 2 ** 31 - 1, 0, 3, -1] },
    { type: "float32", values: [0.5, -1.25, 1048576, 0, 1, -2] },
  ] as const;
  for (const { type, values } of cases) {
    const raw = encodeIdx(type, [2, 3], values);
    for (const bytes of [raw, await gzip(raw)]) {
      const decoded = await decodeIdx(bytes, "case");
      assertEquals(decoded.type, type);
      assertEquals(decoded.dims, [2, 3]);
      assertEquals(Array.from(decoded.data), [...values]);
    }
  }
});

async function rejection(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  const error = await assertRejects(() => decodeIdx(bytes, "bad.idx"), InputError);
  if (!error.message.startsWith("bad.idx: ") || !pattern.test(error.message)) {
    throw new Error(`unexpected message: ${error.message}`);
  }
}

Deno.test("rejects malformed IDX data with a message naming the file", async () => {
  const good = encodeIdx("uint8", [2, 2], [1, 2, 3, 4]);
  await rejection(Uint8Array.of(1, 0, 8, 1), /bad magic/);
  await rejection(Uint8Array.of(0, 0), /bad magic/);
  await rejection(Uint8Array.of(0, 0, 0x0a, 1, 0, 0, 0, 1, 5), /unknown IDX element type 0x0a/);
  await rejection(Uint8Array.of(0, 0, 8, 0), /zero dimensions/);
  await rejection(Uint8Array.of(0, 0, 8, 2, 0, 0), /inside the IDX header/);
  await rejection(good.subarray(0, good.length - 1), /shorter than the header says/);
  await rejection(Uint8Array.of(...good, 9), /longer than the header says/);
});

Deno.test("rejects truncated and corrupt gzip", async () => {
  const compressed = await gzip(encodeIdx("uint8", [100], new Array(100).fill(3)));
  await rejection(compressed.subarray(0, compressed.length - 6), /truncated or corrupt gzip/);
  const corrupt = compressed.slice();
  corrupt[12] ^= 0xff;
  corrupt[13] ^= 0xff;
  await rejection(corrupt, /truncated or corrupt gzip/);
});
