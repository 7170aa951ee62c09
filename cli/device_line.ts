import type { AutoChoice } from "../backend/auto_choice.ts";
import type { BackendInfo } from "../backend/backend_info.ts";

/** The header's first line: what the run computes on and, for `auto`, why. */
export function deviceLine(backend: BackendInfo & { auto?: AutoChoice }): string {
  const software = backend.software && backend.name === "webgpu" ? " (software adapter)" : "";
  const auto = backend.auto ? `; auto: ${backend.auto.reason}` : "";
  return `device: ${backend.description}${software}${auto}`;
}
