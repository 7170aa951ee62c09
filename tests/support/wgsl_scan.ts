/**
 * Scans WGSL for what defeats GPU compilers in a hot loop: integer
 * division or modulo, loops with data-dependent bounds (`while`, `loop`),
 * and private arrays indexed by a variable. Also measures a tiled
 * kernel's workgroup-memory traffic per multiply-add.
 *
 * @module
 */

/** One problem found, with the line it is on. */
export interface Finding {
  rule: "division" | "modulo" | "while" | "private array";
  line: string;
}

/** The code without `//` comments. */
function withoutComments(code: string): string {
  return code.replace(/\/\/[^\n]*/g, "");
}

/** The bodies of all `for` loops in `code` (nested ones included, each apart). */
export function loopBodies(code: string): string[] {
  const bodies: string[] = [];
  const source = withoutComments(code);
  for (const match of source.matchAll(/\bfor\s*\(/g)) {
    const open = source.indexOf("{", match.index!);
    let depth = 0;
    for (let i = open; i < source.length; i++) {
      if (source[i] === "{") depth++;
      if (source[i] === "}" && --depth === 0) {
        bodies.push(source.slice(open + 1, i));
        break;
      }
    }
  }
  return bodies;
}

/** What {@link scanHotLoops} finds in `code`. */
export function scanHotLoops(code: string): Finding[] {
  const source = withoutComments(code);
  const findings: Finding[] = [];
  // `var<workgroup> name : array<…>` does not match: only function-scope (private) arrays.
  const privateArrays = [...source.matchAll(/\bvar\s+(\w+)\s*:\s*array</g)].map((match) =>
    match[1]
  );
  for (const line of source.split("\n")) {
    if (/\bwhile\b|\bloop\s*\{/.test(line)) findings.push({ rule: "while", line: line.trim() });
  }
  for (const body of loopBodies(source)) {
    for (const line of body.split("\n")) {
      const trimmed = line.trim();
      if (/[^/]\/[^/]/.test(` ${trimmed} `)) findings.push({ rule: "division", line: trimmed });
      if (trimmed.includes("%")) findings.push({ rule: "modulo", line: trimmed });
      for (const name of privateArrays) {
        for (const index of trimmed.matchAll(new RegExp(`\\b${name}\\[([^\\]]+)\\]`, "g"))) {
          if (!/^\s*\d+\s*$/.test(index[1])) {
            findings.push({ rule: "private array", line: trimmed });
          }
        }
      }
    }
  }
  return findings;
}

/**
 * Bytes read from workgroup memory per scalar multiply-add in the innermost
 * loop of a tiled kernel: its `vec4` reads of `tileA`/`tileB` (16 bytes
 * each) against its `vec4` `fma` calls (4 multiply-adds each).
 */
export function workgroupBytesPerMultiplyAdd(code: string): number {
  const bodies = loopBodies(code).filter((body) => !/\bfor\s*\(/.test(body));
  const inner = bodies.find((body) => body.includes("fma("));
  if (!inner) throw new Error("no loop with fma calls");
  const reads = (inner.match(/\btile[AB]\[/g) ?? []).length;
  const multiplyAdds = (inner.match(/\bfma\(/g) ?? []).length * 4;
  return (reads * 16) / multiplyAdds;
}
