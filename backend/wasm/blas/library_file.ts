/**
 * What a file looks like from its first bytes: a shared library (ELF,
 * Mach-O or PE), something else, or missing. It lets `--blas PATH` say
 * that a file is no library before asking for the FFI permission that
 * opening it would take.
 *
 * @module
 */

/** What is at a path: a library, another file, nothing, or unknown (not readable here). */
export type LibraryFileKind = "library" | "other" | "missing" | "unknown";

/** The first bytes of shared libraries: ELF, Mach-O (64- and 32-bit, universal), PE. */
const MAGIC_NUMBERS = [
  [0x7f, 0x45, 0x4c, 0x46],
  [0xcf, 0xfa, 0xed, 0xfe],
  [0xce, 0xfa, 0xed, 0xfe],
  [0xca, 0xfe, 0xba, 0xbe],
  [0x4d, 0x5a],
];

/** The first four bytes of the file at `path` (fewer for a shorter file). */
function firstBytes(path: string): Uint8Array {
  const file = Deno.openSync(path);
  try {
    const bytes = new Uint8Array(4);
    const read = file.readSync(bytes) ?? 0;
    return bytes.subarray(0, read);
  } finally {
    file.close();
  }
}

/** What the file at `path` is, by its first bytes. */
export function libraryFileKind(path: string): LibraryFileKind {
  let bytes: Uint8Array;
  try {
    bytes = firstBytes(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "missing";
    // A folder is no library, whatever permission it might be given.
    return error instanceof Deno.errors.IsADirectory ? "other" : "unknown";
  }
  const matches = (magic: number[]) => magic.every((byte, i) => bytes[i] === byte);
  return MAGIC_NUMBERS.some(matches) ? "library" : "other";
}
