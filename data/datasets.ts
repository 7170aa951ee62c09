/** The four files of an MNIST-style dataset, by role. */
export interface DatasetFiles {
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
}

/** Where a dataset comes from and what its files and classes are. */
export interface DatasetInfo {
  /** Name used on the command line and as the cache sub-folder. */
  name: DatasetName;
  /** Base URL of the official host (file names are appended). */
  baseUrl: string;
  files: DatasetFiles;
  /** Published MD5 checksum of each `.gz` file, by file name. */
  md5: Record<string, string>;
  /** Class names in label order. */
  classes: readonly string[];
}

/** Names of the datasets this toolkit knows. */
export type DatasetName = "fashion-mnist" | "mnist";

const STANDARD_FILES: DatasetFiles = {
  trainImages: "train-images-idx3-ubyte.gz",
  trainLabels: "train-labels-idx1-ubyte.gz",
  testImages: "t10k-images-idx3-ubyte.gz",
  testLabels: "t10k-labels-idx1-ubyte.gz",
};

/** Fashion-MNIST (Zalando Research) and the MNIST digits. */
export const DATASETS: Record<DatasetName, DatasetInfo> = {
  "fashion-mnist": {
    name: "fashion-mnist",
    baseUrl: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    files: STANDARD_FILES,
    md5: {
      "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
      "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
      "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
      "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    classes: [
      "T-shirt/top",
      "Trouser",
      "Pullover",
      "Dress",
      "Coat",
      "Sandal",
      "Shirt",
      "Sneaker",
      "Bag",
      "Ankle boot",
    ],
  },
  mnist: {
    name: "mnist",
    baseUrl: "https://ossci-datasets.s3.amazonaws.com/mnist/",
    files: STANDARD_FILES,
    md5: {
      "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
      "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
      "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
      "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    classes: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
  },
};

/** The dataset names, for flag validation and help texts. */
export const DATASET_NAMES = Object.keys(DATASETS) as DatasetName[];

/** The four file names of a dataset, in a fixed order. */
export function datasetFileNames(info: DatasetInfo): string[] {
  const { trainImages, trainLabels, testImages, testLabels } = info.files;
  return [trainImages, trainLabels, testImages, testLabels];
}
