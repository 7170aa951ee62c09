import { dirname, join, normalize, relative } from "node:path";
import { assert, assertEquals } from "./support/assert.ts";
import { ROOT } from "./support/cli.ts";

/** Folders that hold no code of the project's. */
const SKIPPED = new Set([".git", "runs", "dist", ".device", ".gl", "node_modules", "fixtures"]);

/** Most code files in one folder, so that a folder's name still says what is in it. */
const MOST_FILES_PER_FOLDER = 12;

/** The project's TypeScript files, relative to the root. */
function sourceFiles(dir = ROOT, found: string[] = []): string[] {
  for (const entry of Deno.readDirSync(dir)) {
    if (SKIPPED.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory) sourceFiles(path, found);
    else if (entry.name.endsWith(".ts")) found.push(relative(ROOT, path));
  }
  return found;
}

/** The project files `file` imports (type-only and side-effect imports included). */
function importsOf(file: string): string[] {
  const text = Deno.readTextFileSync(join(ROOT, file));
  const specifiers = [
    ...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*"(\.{1,2}\/[^"]+)"/gms),
    ...text.matchAll(/^\s*import\s*"(\.{1,2}\/[^"]+)"/gm),
  ].map((match) => match[1]);
  return specifiers.map((specifier) => normalize(join(dirname(file), specifier)));
}

/** One import cycle among `files`, as the list of files around it, or undefined. */
function findCycle(files: string[]): string[] | undefined {
  const graph = new Map(files.map((file) => [file, importsOf(file)]));
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (file: string): string[] | undefined => {
    if (state.get(file) === "done") return undefined;
    if (state.get(file) === "open") return [...path.slice(path.indexOf(file)), file];
    state.set(file, "open");
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(file, "done");
    return undefined;
  };
  for (const file of files) {
    const cycle = visit(file);
    if (cycle) return cycle;
  }
  return undefined;
}

Deno.test("no import cycle among the project's modules", () => {
  const cycle = findCycle(sourceFiles());
  assert(cycle === undefined, `import cycle: ${cycle?.join(" → ")}`);
});

Deno.test("the cycle finder finds a cycle", () => {
  const dir = "tests/.cycle_probe";
  Deno.mkdirSync(join(ROOT, dir), { recursive: true });
  try {
    Deno.writeTextFileSync(join(ROOT, dir, "a.ts"), 'import type { B } from "./b.ts";\n');
    Deno.writeTextFileSync(join(ROOT, dir, "b.ts"), 'export { A } from "./a.ts";\n');
    assertEquals(findCycle([`${dir}/a.ts`, `${dir}/b.ts`]), [
      `${dir}/a.ts`,
      `${dir}/b.ts`,
      `${dir}/a.ts`,
    ]);
  } finally {
    Deno.removeSync(join(ROOT, dir), { recursive: true });
  }
});

Deno.test(`no folder holds more than ${MOST_FILES_PER_FOLDER} code files`, () => {
  const counts = new Map<string, number>();
  for (const file of sourceFiles()) {
    counts.set(dirname(file), (counts.get(dirname(file)) ?? 0) + 1);
  }
  const crowded = [...counts].filter(([, count]) => count > MOST_FILES_PER_FOLDER);
  assertEquals(crowded, [], "folders with too many files");
});

Deno.test("the README's layout names every code folder and only folders that exist", () => {
  const readme = Deno.readTextFileSync(join(ROOT, "README.md"));
  const section = readme.split(/^## /m).find((part) => part.startsWith("Development"));
  assert(section, "README.md has no Development section");
  const layout = section.split(/^### /m).find((part) => part.startsWith("Layout"));
  assert(layout, "README.md's Development section has no Layout");
  const named = new Set([...layout.matchAll(/`([\w/]+)\/`/g)].map((match) => match[1]));
  const folders = new Set(
    sourceFiles().map((file) => dirname(file)).filter((dir) => dir !== "."),
  );
  const isFolder = (path: string) => {
    try {
      return Deno.statSync(join(ROOT, path)).isDirectory;
    } catch {
      return false;
    }
  };
  for (const folder of named) assert(isFolder(folder), `the layout names ${folder}/`);
  for (const folder of folders) {
    // The tests mirror the code's folders: naming tests/ covers them.
    const covered = named.has(folder) || (folder.startsWith("tests/") && named.has("tests"));
    assert(covered, `the layout omits ${folder}/`);
  }
});
