/**
 * The TensorFlow.js namespace vae-lab uses and re-exports as `tf`: the ops of `@tensorflow/tfjs-core` (with the
 * chained ops, `x.sub(y)`, and every gradient registered), the layers API of `@tensorflow/tfjs-layers`
 * (`tf.layers`, `tf.sequential`, `tf.loadLayersModel`), and the `cpu` backend; backend.ts adds `wasm` (and
 * `tensorflow` where `@tensorflow/tfjs-node` is installed).
 *
 * That is what the library needs of the `@tensorflow/tfjs` umbrella, without its converter, data and WebGL
 * packages and its prebuilt bundles: about 200 MB less in a user's node_modules. vae-lab runs no graph models,
 * tf.data or WebGL; a program that wants them installs `@tensorflow/tfjs` beside vae-lab (the same tfjs-core).
 */
import "@tensorflow/tfjs-backend-cpu"; // registers the "cpu" backend
import "./chained-ops";

export * from "@tensorflow/tfjs-core";
// tfjs-layers also registers the gradients of every core op (core's CommonJS build does not).
export * from "@tensorflow/tfjs-layers";
