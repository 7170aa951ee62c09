/** Which tfjs backend to compute on. */
export type BackendName = "webgpu" | "wasm" | "cpu";

/** What the active backend runs on, for headers and memory planning. */
export interface BackendInfo {
  name: BackendName;
  /** One line describing the adapter or the CPU backend. */
  description: string;
  /** True for a software adapter (lavapipe, llvmpipe) or the CPU backend. */
  software: boolean;
  /** Largest storage buffer one kernel may bind, in bytes (Infinity on the CPU). */
  maxBindingBytes: number;
  /** The GPU adapter and device, when the backend is WebGPU. */
  adapter?: GPUAdapter;
  device?: GPUDevice;
}
