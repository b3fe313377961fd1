/**
 * Float64 references of the MLP VAE (src/vae/model.ts) written out here, independent of the library's tfjs
 * code: the hidden activations, −log Bernoulli on logits, and a forward pass from a model's weights.
 */
import type { Activation, Dense, Vae } from "../../src/vae/model";

export const ACT64: Record<Activation, (a: number) => number> = {
  relu: (a) => Math.max(0, a),
  tanh: Math.tanh,
  softplus: (a) => Math.log1p(Math.exp(a)),
  elu: (a) => (a > 0 ? a : Math.expm1(a)),
  leakyRelu: (a) => (a > 0 ? a : 0.01 * a),
  sigmoid: (a) => 1 / (1 + Math.exp(-a)),
};
export const sigmoid64 = ACT64.sigmoid;
export const LOG_2PI_64 = 1.8378770664093453; // log 2π, typed in
/** softplus(l) − l·x summed: −log Bernoulli(x; σ(l)). */
export const bce64 = (l: number[], x: number[]) => l.reduce((s, li, j) => s + Math.max(li, 0) + Math.log1p(Math.exp(-Math.abs(li))) - li * x[j], 0);

/**
 * A float64 forward pass of any MLP VAE of model.ts (every depth and activation) from its weights, as they are
 * when this is called: the independent reference.
 */
export function mlp64(vae: Vae) {
  const act = ACT64[vae.config.activation];
  type Layer = { W: number[]; b: number[]; nin: number; nout: number };
  const get = (l: Dense): Layer => ({ W: Array.from(l.W.dataSync()), b: Array.from(l.b.dataSync()), nin: l.W.shape[0], nout: l.W.shape[1] });
  const [encoder, encMu, encLogVar, decoder, decOut] = [vae.encoder.map(get), get(vae.encMu), get(vae.encLogVar), vae.decoder.map(get), get(vae.decOut)];
  const layer = (x: number[], { W, b, nin, nout }: Layer, f?: (a: number) => number) =>
    Array.from({ length: nout }, (_, j) => {
      let s = b[j];
      for (let i = 0; i < nin; i++) s += x[i] * W[i * nout + j];
      return f ? f(s) : s;
    });
  const encode = (x: number[]) => {
    let h = x;
    for (const l of encoder) h = layer(h, l, act);
    return { mu: layer(h, encMu), logVar: layer(h, encLogVar) };
  };
  const decode = (z: number[]) => {
    let h = z;
    for (const l of decoder) h = layer(h, l, act);
    return layer(h, decOut);
  };
  return { encode, decode, decodeMean: (z: number[]) => decode(z).map(sigmoid64) };
}

