import { join } from "node:path";

/** Every file under a folder with its size and a hash of its bytes, to show that nothing changed. */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) {
      for (const [name, bytes] of Object.entries(await snapshot(path))) {
        files[`${entry.name}/${name}`] = bytes;
      }
    } else {
      const bytes = await Deno.readFile(path);
      files[entry.name] = `${bytes.length}:${bytes.reduce((a, b) => (a * 31 + b) >>> 0, 7)}`;
    }
  }
  return files;
}
