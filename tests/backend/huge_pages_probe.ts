/**
 * Run by `huge_pages_test.ts` in a process with every permission (FFI, and
 * /proc and /sys, which Deno reads only with all of them): starts the wasm
 * backend and makes shared floats, then prints as JSON the machine's
 * transparent huge page setting and whether the kernel marked the memory of
 * each for huge pages (`hg` among the VmFlags of its mapping in
 * /proc/self/smaps).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { setupBackend } from "../../backend/setup.ts";
import type { WasmHeap } from "../../backend/wasm/heap.ts";
import { sharedFloats } from "../../training/workers/shared_floats.ts";

/** The VmFlags of the mapping that holds `address`. */
function vmFlagsAt(address: bigint): string[] {
  let inside = false;
  for (const line of Deno.readTextFileSync("/proc/self/smaps").split("\n")) {
    const range = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (range) inside = BigInt(`0x${range[1]}`) <= address && address < BigInt(`0x${range[2]}`);
    if (inside && line.startsWith("VmFlags:")) return line.slice(8).trim().split(/\s+/);
  }
  return [];
}

/** Whether the page holding `buffer`'s byte at `offset` is marked for huge pages. */
function marked(buffer: ArrayBufferLike, offset: number): boolean {
  const start = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(new Uint8Array(buffer))));
  return vmFlagsAt(start + BigInt(offset)).includes("hg");
}

/** The bracketed choice of /sys/kernel/mm/transparent_hugepage/enabled, if the file exists. */
function hugePageSetting(): string | undefined {
  try {
    const text = Deno.readTextFileSync("/sys/kernel/mm/transparent_hugepage/enabled");
    return /\[(\w+)\]/.exec(text)?.[1];
  } catch {
    return undefined;
  }
}

await setupBackend("wasm");
const heap = (tf.backend() as unknown as WasmHeap).wasm.HEAPU8.buffer;
const shared = sharedFloats([2 ** 22])[0].buffer;
console.log(JSON.stringify({
  setting: hugePageSetting(),
  heap: marked(heap, heap.byteLength >> 1),
  shared: marked(shared, shared.byteLength >> 1),
}));
