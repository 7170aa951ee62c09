/**
 * A process that opens MNIST as `train` does, downloading it from a test
 * server into the cache when it is missing:
 *
 *     open_dataset_child.ts BASE_URL MD5_JSON
 */
import { openDataset } from "../../../data/source.ts";

const [baseUrl, md5] = Deno.args;
const dataset = await openDataset({
  dataset: "mnist",
  download: { baseUrl, md5: JSON.parse(md5) },
  log: (line) => console.log(line),
});
console.log(`loaded ${dataset.train.count} training images from ${dataset.dir}`);
