import { InputError } from "../errors.ts";

/** How to run the PyTorch reference script and on what. */
export interface TorchReference {
  script: string;
  python: string;
  /** `cpu` or `cuda`. */
  device: string;
  /** Folder holding the dataset's .gz files. */
  dataDir: string;
  resize: number;
  batchSize: number;
  steps: number;
  /** Extra environment variables for the interpreter (a preloaded BLAS). */
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
  ];
  const command = new Deno.Command(python, {
    args,
    env: reference.env,
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
