/**
 * The data sets `--dataset` names (dataset.ts finds and reads them). Kept apart from the readers, which load
 * TensorFlow.js, so that the command line can check the flag without it.
 */
export type DatasetName = "mnist" | "fashion-mnist";
export const DATASET_CHOICES: readonly DatasetName[] = ["mnist", "fashion-mnist"];
