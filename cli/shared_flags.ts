/**
 * Flags that several commands take, declared once.
 *
 * @module
 */
import { BACKEND_CHOICES } from "../backend/setup.ts";
import { MODEL_NAMES } from "../model/registry.ts";
import { choiceFlag, integerFlag, textFlag } from "./flags.ts";

/** `--model`. */
export const MODEL_FLAG = choiceFlag({
  help: MODEL_NAMES.join(", "),
  choices: MODEL_NAMES,
  default: "alexnet",
  fixedOnResume: true,
});

/** `--resize`: the input side; its default is the model's recipe's. */
export const RESIZE_FLAG = integerFlag({
  help: "input side of the network (each has a least one; the LeNets take 28 only)",
  defaultText: "the model's recipe: 224 for alexnet, vgg11, nin; 96 for the others",
  fixedOnResume: true,
});

/** `--batch`: examples per optimisation step; its default is the model's recipe's. */
export const BATCH_FLAG = integerFlag({
  help: "examples per optimisation step",
  defaultText: "the model's recipe",
  fixedOnResume: true,
});

/** `--backend`. */
export const BACKEND_FLAG = choiceFlag({
  help: "auto, webgpu, wasm or cpu; auto picks webgpu on a hardware GPU, else wasm",
  choices: BACKEND_CHOICES,
  default: "auto",
});

/** `--data-dir`. */
export const DATA_DIR_FLAG = textFlag({
  placeholder: "DIR",
  help: "folder holding the dataset's four .gz files",
  defaultText: "the cache, then /usr/share/datasets",
});

/** `--threads`: threads sharing each step on wasm; the default fits the cores and memory. */
export const THREADS_FLAG = integerFlag({
  help: "threads sharing each step on the CPU (wasm)",
  defaultText: "as many as the cores and the available memory allow, at most 8",
});

/** `--blas`: the BLAS of the wasm backend's matrix products (see `cli/blas_choice.ts`). */
export const BLAS_FLAG = textFlag({
  placeholder: "auto|none|PATH",
  help: "the BLAS of the wasm backend's matrix products: auto, none, or a CBLAS library\n" +
    "auto searches the usual places (docs/troubleshooting.md); none keeps them on XNNPACK",
  default: "auto",
});

/** `--port`: where a page is served. */
export const PORT_FLAG = integerFlag({
  help: "port of the page on 127.0.0.1",
  min: 0,
  defaultText: "any free one",
});
