import { InputError } from "../errors.ts";
import type { DatasetInfo } from "./datasets.ts";
import { type IdxArray, readIdxFile } from "./idx.ts";
import { join } from "node:path";

/** Side length of every image in an MNIST-style dataset. */
export const IMAGE_SIZE = 28;
/** Number of classes. */
export const NUM_CLASSES = 10;

/** One split of a dataset, kept as uint8 in memory. */
export interface Split {
  /** Row-major pixels, `count × 28 × 28`, values 0..255. */
  images: Uint8Array;
  /** Labels 0..9, one per image. */
  labels: Uint8Array;
  count: number;
}

/** A dataset's training and test splits, plus where they came from. */
export interface Dataset {
  info: DatasetInfo;
  dir: string;
  train: Split;
  test: Split;
}

function checkImages(array: IdxArray, path: string): Uint8Array {
  if (array.type !== "uint8") {
    throw new InputError(
      `${path}: images must be unsigned bytes, found ${array.type}`,
    );
  }
  const [, rows, cols] = array.dims;
  if (array.dims.length !== 3 || rows !== IMAGE_SIZE || cols !== IMAGE_SIZE) {
    throw new InputError(
      `${path}: images must be N×28×28, found ${array.dims.join("×")}`,
    );
  }
  return array.data as Uint8Array;
}

function checkLabels(array: IdxArray, path: string): Uint8Array {
  if (array.type !== "uint8" || array.dims.length !== 1) {
    throw new InputError(
      `${path}: labels must be a 1-dimensional array of unsigned bytes, found ${array.type} ${
        array.dims.join("×")
      }`,
    );
  }
  const labels = array.data as Uint8Array;
  const bad = labels.findIndex((label) => label >= NUM_CLASSES);
  if (bad >= 0) {
    throw new InputError(
      `${path}: label ${labels[bad]} at index ${bad} is outside 0..9`,
    );
  }
  return labels;
}

/**
 * Like `Promise.all`, but waits for every promise and throws the rejection
 * of the first one in `promises`' order, whichever failed first: with both
 * splits or both files of a split wrong, the error is always the same.
 */
async function allInOrder<T extends unknown[]>(
  promises: { [K in keyof T]: Promise<T[K]> },
): Promise<T> {
  const results = await Promise.allSettled(promises);
  for (const result of results) if (result.status === "rejected") throw result.reason;
  return results.map((result) => (result as PromiseFulfilledResult<unknown>).value) as T;
}

/**
 * Reads and checks one split from an images file and a labels file
 * (`.gz` or raw IDX). Any problem is an `InputError` naming the file.
 */
export async function loadSplit(
  imagesPath: string,
  labelsPath: string,
): Promise<Split> {
  const [imageArray, labelArray] = await allInOrder<[IdxArray, IdxArray]>([
    readIdxFile(imagesPath),
    readIdxFile(labelsPath),
  ]);
  const images = checkImages(imageArray, imagesPath);
  const labels = checkLabels(labelArray, labelsPath);
  const count = imageArray.dims[0];
  if (labels.length !== count) {
    throw new InputError(
      `${labelsPath}: ${labels.length} labels for ${count} images in ${imagesPath}`,
    );
  }
  return { images, labels, count };
}

/** Loads both splits of a dataset from the folder that holds its four files. */
export async function loadDataset(
  info: DatasetInfo,
  dir: string,
): Promise<Dataset> {
  const { trainImages, trainLabels, testImages, testLabels } = info.files;
  const [train, test] = await allInOrder<[Split, Split]>([
    loadSplit(join(dir, trainImages), join(dir, trainLabels)),
    loadSplit(join(dir, testImages), join(dir, testLabels)),
  ]);
  return { info, dir, train, test };
}

/** The first `limit` examples of a split (all of them when `limit` is absent or larger). */
export function takeFirst(split: Split, limit?: number): Split {
  if (limit === undefined || limit >= split.count) return split;
  const pixels = IMAGE_SIZE * IMAGE_SIZE;
  return {
    images: split.images.subarray(0, limit * pixels),
    labels: split.labels.subarray(0, limit),
    count: limit,
  };
}
