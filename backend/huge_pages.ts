/**
 * Asks Linux to back large memory regions with 2 MiB pages (transparent
 * huge pages, `madvise(MADV_HUGEPAGE)`). Where the kernel sets them to
 * "madvise" (Debian's and Ubuntu's default), the wasm heap is otherwise
 * touched 4 KiB at a time, and each first touch is a page fault: about
 * 200,000 per thread on AlexNet's first step at 224, and page faults are
 * slow on virtual machines (see docs/troubleshooting.md).
 *
 * Calling libc needs Deno's whole FFI permission (`--allow-ffi`): an
 * allow-list of library paths lets a library open but not its functions be
 * called. FFI code runs outside Deno's sandbox, so the tasks leave it out;
 * without it, off Linux, or without libc at a known path, nothing happens.
 *
 * @module
 */

/** Where Linux distributions keep the C library, tried in order. */
const LIBC_PATHS = [
  "/lib/x86_64-linux-gnu/libc.so.6",
  "/lib/aarch64-linux-gnu/libc.so.6",
  "/lib64/libc.so.6",
  "/usr/lib/libc.so.6",
];

/** `MADV_HUGEPAGE` of Linux's `<sys/mman.h>`. */
const MADV_HUGEPAGE = 14;

/** The size of a base page on the architectures above. */
const PAGE_BYTES = 4096n;

const SYMBOLS = {
  madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
} as const;

type Madvise = (address: Deno.PointerValue, length: bigint, advice: number) => number;

/** libc's `madvise` once looked for: null where it cannot be called. */
let madvise: Madvise | null | undefined;

function openMadvise(): Madvise | null {
  if (Deno.build.os !== "linux") return null;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
  for (const path of LIBC_PATHS) {
    try {
      return Deno.dlopen(path, SYMBOLS).symbols.madvise;
    } catch {
      // Not at this path: try the next one.
    }
  }
  return null;
}

/**
 * Advises huge pages for the whole pages among the `length` bytes from the
 * start of `buffer`'s memory (`length` may run past the buffer's current end
 * into memory reserved for its growth, as a wasm heap's does). Returns true
 * when the kernel took the advice, false where it could not be given.
 */
export function adviseHugePages(buffer: ArrayBufferLike, length = buffer.byteLength): boolean {
  if (madvise === undefined) madvise = openMadvise();
  if (madvise === null) return false;
  const start = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(new Uint8Array(buffer))));
  const first = (start + PAGE_BYTES - 1n) / PAGE_BYTES * PAGE_BYTES;
  const end = (start + BigInt(length)) / PAGE_BYTES * PAGE_BYTES;
  if (end <= first) return false;
  return madvise(Deno.UnsafePointer.create(first), end - first, MADV_HUGEPAGE) === 0;
}
