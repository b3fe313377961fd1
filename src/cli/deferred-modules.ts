/**
 * The modules that load TensorFlow.js (or the model code that does), required only once a command has
 * checked its flags and runs: a refused flag or `--help` then answers without loading it (about 0.2 CPU-s
 * instead of 0.65). main.ts and the commands take them from here; test/cli.test.ts checks that refusals
 * load no @tensorflow module.
 */
export const deferred = {
  backend: () => require("../engine/backend") as typeof import("../engine/backend"),
  nativeKernels: () => require("../engine/native-kernels") as typeof import("../engine/native-kernels"),
  tidy: () => require("../engine/tidy") as typeof import("../engine/tidy"),
  mnist: () => require("../data/mnist") as typeof import("../data/mnist"),
  dataset: () => require("../data/dataset") as typeof import("../data/dataset"),
  plot: () => require("../plot/plot") as typeof import("../plot/plot"),
  checkpoint: () => require("../vae/checkpoint") as typeof import("../vae/checkpoint"),
  conditional: () => require("../vae/conditional") as typeof import("../vae/conditional"),
  evaluate: () => require("../vae/evaluate") as typeof import("../vae/evaluate"),
  layersExport: () => require("../vae/layers-export") as typeof import("../vae/layers-export"),
  modelOutputs: () => require("./model-outputs") as typeof import("./model-outputs"),
  job: () => require("./job") as typeof import("./job"),
  categoricalJob: () => require("./categorical-job") as typeof import("./categorical-job"),
  bench: () => require("./bench") as typeof import("./bench"),
  resume: () => require("./resume") as typeof import("./resume"),
  sample: () => require("./sample") as typeof import("./sample"),
  encode: () => require("./encode") as typeof import("./encode"),
  export: () => require("./export") as typeof import("./export"),
};
