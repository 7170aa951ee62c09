import { fileURLToPath } from "node:url";
import { InputError } from "../errors.ts";

/** The script that sets environment variables and re-executes the interpreter. */
const ENV_WRAPPER = new URL("../tools/python_with_env.py", import.meta.url);

/** How to run the PyTorch reference script and on what. */
export interface TorchReference {
  script: string;
  python: string;
  /**
   * The network, for a script of several (`--model NAME`, as
   * ../shared/reference/torch_chapter.py takes it); absent for AlexNet,
   * the one network of torch_alexnet.py.
   */
  model?: string;
  /** `cpu` or `cuda`. */
  device: string;
  /** Folder holding the dataset's .gz files. */
  dataDir: string;
  resize: number;
  batchSize: number;
  steps: number;
  /** Environment variables for the interpreter (a preloaded BLAS, TF32 switches). */
  env?: Record<string, string>;
}

/** The closing JSON line of the reference script (`images_per_s` and the rest of its figures). */
export type TorchResult = { images_per_s: number } & Record<string, unknown>;

/** Runs the PyTorch reference script (its progress goes to stderr) and returns its closing JSON line. */
export async function runTorchReference(reference: TorchReference): Promise<TorchResult> {
  const { script, python, device, dataDir, resize, batchSize, steps } = reference;
  const args = [
    script,
    "--device",
    device,
    "--data",
    dataDir,
    "--resize",
    String(resize),
    "--batch",
    String(batchSize),
    "--steps",
    String(steps),
    ...(reference.model ? ["--model", reference.model] : []),
  ];
  // Deno lets a task run the interpreter but not set LD_PRELOAD for it: a wrapper sets the variables.
  const env = Object.entries(reference.env ?? {}).map(([name, value]) => `${name}=${value}`);
  const command = new Deno.Command(python, {
    args: env.length > 0 ? [fileURLToPath(ENV_WRAPPER), ...env, "--", ...args] : args,
    stdout: "piped",
    stderr: "inherit",
  });
  const output = await command.output().catch((error) => {
    if (error instanceof Deno.errors.NotFound) {
      throw new InputError(`--python ${python}: not found`);
    }
    throw error;
  });
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  if (!output.success) throw new InputError(`--torch-script ${script}: exited with ${output.code}`);
  return JSON.parse(lines[lines.length - 1]);
}

/** One way to run the reference: a label for the report and the environment it runs with. */
export interface TorchSetting {
  label: string;
  env: Record<string, string>;
}

/** Where Debian puts each BLAS that PyTorch can be made to load. */
export const BLAS_LIBRARIES = {
  reference: "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3",
  openblas: "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3",
};

/** The BLAS choices of `--torch-blas`. */
export const TORCH_BLAS = ["system", "reference", "openblas", "both"] as const;

/** The TF32 choices of `--torch-tf32`. */
export const TORCH_TF32 = ["default", "on", "off", "both"] as const;

/**
 * The settings to run the reference under: on the CPU, the BLAS preloaded
 * for the interpreter alone (`both`: reference and OpenBLAS), leaving the
 * system's default untouched; on CUDA, TF32 forced on (matrix products
 * too; PyTorch's convolutions use it by default) or off (NVIDIA's
 * libraries' own switch), or both. Throws an `InputError` naming the flag
 * when a BLAS is not installed.
 */
export function torchSettings(
  device: string,
  blas: (typeof TORCH_BLAS)[number],
  tf32: (typeof TORCH_TF32)[number],
): TorchSetting[] {
  if (device === "cuda") {
    const on = { label: "TF32 on", env: { TORCH_ALLOW_TF32_CUBLAS_OVERRIDE: "1" } };
    const off = { label: "TF32 off", env: { NVIDIA_TF32_OVERRIDE: "0" } };
    return tf32 === "both" ? [off, on] : tf32 === "on" ? [on] : tf32 === "off" ? [off] : [
      { label: "PyTorch's defaults", env: {} },
    ];
  }
  const chosen = blas === "both" ? ["reference", "openblas"] as const : blas === "system" ? [] : [
    blas,
  ];
  if (chosen.length === 0) return [{ label: "system BLAS", env: {} }];
  return chosen.map((name) => {
    const path = BLAS_LIBRARIES[name];
    try {
      Deno.statSync(path);
    } catch {
      const hint = name === "openblas"
        ? "apt-get install libopenblas0-pthread"
        : "apt-get install libblas3";
      throw new InputError(`--torch-blas ${blas}: ${path} not found (${hint})`);
    }
    return {
      label: `${name === "openblas" ? "OpenBLAS" : "reference BLAS"}`,
      env: { LD_PRELOAD: path },
    };
  });
}
