/**
 * Where the system's CBLAS is looked for, in this order (`--blas auto`
 * opens the first that is granted, installed and has `cblas_sgemm`):
 *
 * 1. Debian and Ubuntu, x86_64 then aarch64 (multiarch folders):
 *    OpenBLAS's pthread, OpenMP and serial builds (`libopenblas0-pthread`,
 *    `-openmp`, `-serial`), then BLIS's (`libblis4-pthread`, `-openmp`,
 *    `-serial`).
 * 2. Fedora's OpenBLAS: `openblas-threads`, `openblas-openmp`, `openblas`.
 * 3. Arch's OpenBLAS (`openblas`).
 * 4. macOS: the Accelerate framework (always there), then Homebrew's
 *    OpenBLAS on Apple silicon (`/opt/homebrew`) and on Intel
 *    (`/usr/local`), for `--blas PATH`.
 *
 * Windows has no standard place for a BLAS: there `--blas PATH` names the
 * DLL. The list is also exactly what the tasks grant FFI for (deno.json's
 * `--allow-ffi`) and what `deno task compile` bakes into a binary for its
 * target's OS; a test holds the three together.
 *
 * @module
 */

/** An operating system as Deno names it (`Deno.build.os`). */
export type BlasOs = "linux" | "darwin" | "windows";

/** One place where a CBLAS library may be installed. */
export interface BlasLibrary {
  /** The library's file (Accelerate's may exist only in macOS's dyld cache). */
  path: string;
  /** The OS whose packages put it there. */
  os: BlasOs;
  /** The CPU architecture (`Deno.build.arch`), where the path holds only one. */
  arch?: "x86_64" | "aarch64";
  /** What puts the library there, for the documentation and messages. */
  source: string;
}

/** Debian's multiarch folder of an architecture. */
const MULTIARCH = { x86_64: "x86_64-linux-gnu", aarch64: "aarch64-linux-gnu" } as const;

/** Debian's and Ubuntu's OpenBLAS and BLIS builds, fastest kind of threading first. */
function debianLibraries(arch: keyof typeof MULTIARCH): BlasLibrary[] {
  const folder = `/usr/lib/${MULTIARCH[arch]}`;
  const builds = ["pthread", "openmp", "serial"];
  return [
    ...builds.map((build) => ({
      path: `${folder}/openblas-${build}/libopenblas.so.0`,
      source: `Debian/Ubuntu libopenblas0-${build}`,
    })),
    ...builds.map((build) => ({
      path: `${folder}/blis-${build}/libblis.so.4`,
      source: `Debian/Ubuntu libblis4-${build}`,
    })),
  ].map((library) => ({ ...library, os: "linux" as const, arch }));
}

/** Every place looked in, in order (see the module's documentation). */
export const BLAS_LIBRARIES: readonly BlasLibrary[] = [
  ...debianLibraries("x86_64"),
  ...debianLibraries("aarch64"),
  { path: "/usr/lib64/libopenblasp.so.0", os: "linux", source: "Fedora openblas-threads" },
  { path: "/usr/lib64/libopenblaso.so.0", os: "linux", source: "Fedora openblas-openmp" },
  { path: "/usr/lib64/libopenblas.so.0", os: "linux", source: "Fedora openblas" },
  { path: "/usr/lib/libopenblas.so.0", os: "linux", source: "Arch openblas" },
  {
    path: "/System/Library/Frameworks/Accelerate.framework/Accelerate",
    os: "darwin",
    source: "macOS Accelerate",
  },
  {
    path: "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
    os: "darwin",
    arch: "aarch64",
    source: "Homebrew openblas (Apple silicon)",
  },
  {
    path: "/usr/local/opt/openblas/lib/libopenblas.dylib",
    os: "darwin",
    arch: "x86_64",
    source: "Homebrew openblas (Intel)",
  },
];

/** The paths of one OS's libraries, in order: what a binary for that OS may open. */
export function blasPathsFor(os: string): string[] {
  return BLAS_LIBRARIES.filter((library) => library.os === os).map((library) => library.path);
}

/** The libraries `auto` tries on a machine (by default this one), in order. */
export function candidateLibraries(
  os: string = Deno.build.os,
  arch: string = Deno.build.arch,
): BlasLibrary[] {
  return BLAS_LIBRARIES.filter((library) =>
    library.os === os && (library.arch === undefined || library.arch === arch)
  );
}
