/**
 * `tf.tidy` for computations that end in plain JavaScript values: every tensor made inside `fn` is disposed
 * when it returns, and its (non-tensor) result is passed through.
 */
import * as tf from "./tf";

export function tidyValue<T>(fn: () => T): T {
  let out!: T;
  tf.tidy(() => {
    out = fn();
  });
  return out;
}
