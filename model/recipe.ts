import { type ModelName, MODELS, type Recipe } from "./registry.ts";

/** The settings a run takes from its network's recipe where none are given. */
export function withRecipe(model: ModelName, given: Partial<Recipe>): Recipe {
  const recipe = MODELS[model].recipe;
  return {
    resize: given.resize ?? recipe.resize,
    batchSize: given.batchSize ?? recipe.batchSize,
    learningRate: given.learningRate ?? recipe.learningRate,
  };
}

const LABELS: Record<keyof Recipe, string> = {
  resize: "resize",
  batchSize: "batch",
  learningRate: "lr",
};

/**
 * A header line saying which of a run's settings are its network's recipe
 * (the book's) and which differ: "recipe: resnet18's resize 96, batch 256,
 * lr 0.001" or "recipe: vgg11's resize 224, lr 0.001; batch 32 (recipe 64)".
 */
export function recipeLine(model: ModelName, settings: Recipe): string {
  const recipe = MODELS[model].recipe;
  const keys = Object.keys(LABELS) as (keyof Recipe)[];
  const same = keys.filter((key) => settings[key] === recipe[key]);
  const other = keys.filter((key) => settings[key] !== recipe[key]);
  const kept = same.map((key) => `${LABELS[key]} ${settings[key]}`).join(", ");
  const changed = other.map((key) => `${LABELS[key]} ${settings[key]} (recipe ${recipe[key]})`)
    .join(", ");
  if (other.length === 0) return `recipe: ${model}'s, the book's: ${kept}`;
  return `recipe: ${model}'s ${kept || "nothing"}; given: ${changed}`;
}
