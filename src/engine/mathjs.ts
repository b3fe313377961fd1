/**
 * mathjs (matrix inverses and determinants of the small exact models, erf, symbolic derivatives), loaded
 * on first use: loading it takes longer than the rest of the package together, and most users of the
 * library never call a function that needs it.
 */
import type * as MathJs from "mathjs";

let loaded: typeof MathJs | undefined;

export function mathjs(): typeof MathJs {
  return (loaded ??= require("mathjs") as typeof MathJs);
}
