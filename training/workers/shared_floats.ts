import { adviseHugePages } from "../../backend/huge_pages.ts";

/**
 * Float32 arrays of `sizes` in one block of shared memory, every page
 * already written: written by one thread and read by another, they are
 * copied into, never allocated anew.
 */
export function sharedFloats(sizes: number[]): Float32Array[] {
  const buffer = new SharedArrayBuffer(4 * sizes.reduce((a, b) => a + b, 0));
  adviseHugePages(buffer);
  new Float32Array(buffer).fill(0);
  let offset = 0;
  return sizes.map((size) => {
    const view = new Float32Array(buffer, offset, size);
    offset += 4 * size;
    return view;
  });
}
