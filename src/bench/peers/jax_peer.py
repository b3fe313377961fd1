#!/usr/bin/env python3
"""vae-lab bench peer: JAX with the whole training step (forward, gradient, Adam) under one jax.jit.
The MLP's weights are initialised as nn.Linear's (uniform on +-1/sqrt(fan_in)), the conv model's Glorot-
uniform with zero biases; Adam is written out with PyTorch's formulas (eps 1e-8). See peer_common.py."""
import os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common as pc

PEER = "jax"
a = pc.parse_args(PEER)
if a.threads == "one":
    pc.one_thread_env()
    # XLA's flags do not keep its CPU runtime to one thread (the conv model's step kept a second core busy),
    # so the process is also pinned to one core of those it may run on.
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
try:
    import jax
    import jax.numpy as jnp
    import numpy as np
except ImportError as e:
    pc.skip(PEER, f"no JAX in {sys.executable} ({e})")

B1, B2, EPS, LR = 0.9, 0.999, 1e-8, 1e-3


def linear_init(key, fan_in, fan_out):
    k1, k2 = jax.random.split(key)
    bound = 1 / np.sqrt(fan_in)
    return {"w": jax.random.uniform(k1, (fan_in, fan_out), jnp.float32, -bound, bound), "b": jax.random.uniform(k2, (fan_out,), jnp.float32, -bound, bound)}


def glorot(key, shape, fan_in, fan_out):
    bound = np.sqrt(6 / (fan_in + fan_out))
    return jax.random.uniform(key, shape, jnp.float32, -bound, bound)


def mlp_init(key):
    ks = jax.random.split(key, 5)
    return {"fc1": linear_init(ks[0], 784, 400), "fc21": linear_init(ks[1], 400, 20), "fc22": linear_init(ks[2], 400, 20),
            "fc3": linear_init(ks[3], 20, 400), "fc4": linear_init(ks[4], 400, 784)}


def dense(p, x):
    return x @ p["w"] + p["b"]


def mlp_loss(params, x, key):
    """The negative ELBO summed over the batch (the MLP's training loss, as pytorch/examples)."""
    h = jax.nn.relu(dense(params["fc1"], x))
    mu, logvar = dense(params["fc21"], h), dense(params["fc22"], h)
    z = mu + jax.random.normal(key, mu.shape) * jnp.exp(0.5 * logvar)
    logits = dense(params["fc4"], jax.nn.relu(dense(params["fc3"], z)))
    bce = jnp.sum(jax.nn.softplus(logits) - x * logits)
    return bce - 0.5 * jnp.sum(1 + logvar - mu ** 2 - jnp.exp(logvar))


def conv_init(key, z=2):
    ks = jax.random.split(key, 7)
    conv = lambda k, cin, cout: {"w": glorot(k, (3, 3, cin, cout), 9 * cin, 9 * cout), "b": jnp.zeros((cout,), jnp.float32)}
    return {"c1": conv(ks[0], 1, 32), "c2": conv(ks[1], 32, 64),
            "enc": {"w": glorot(ks[2], (6 * 6 * 64, 2 * z), 6 * 6 * 64, 2 * z), "b": jnp.zeros((2 * z,), jnp.float32)},
            "dec": {"w": glorot(ks[3], (z, 7 * 7 * 32), z, 7 * 7 * 32), "b": jnp.zeros((7 * 7 * 32,), jnp.float32)},
            "t1": conv(ks[4], 32, 64), "t2": conv(ks[5], 64, 32), "t3": conv(ks[6], 32, 1)}


DN = ("NHWC", "HWIO", "NHWC")


def conv_loss_sum(params, x, key):
    """The conv model's negative ELBO summed over the batch (TensorFlow's "valid" convolutions and "same"
    transposed convolutions, NHWC)."""
    x = x.reshape(-1, 28, 28, 1)
    conv = lambda p, h, s: jax.lax.conv_general_dilated(h, p["w"], (s, s), "VALID", dimension_numbers=DN) + p["b"]
    tconv = lambda p, h, s: jax.lax.conv_transpose(h, p["w"], (s, s), "SAME", dimension_numbers=DN) + p["b"]
    h = jax.nn.relu(conv(params["c2"], jax.nn.relu(conv(params["c1"], x, 2)), 2))
    out = dense(params["enc"], h.reshape(len(x), -1))
    mu, logvar = out[:, :2], out[:, 2:]
    z = mu + jax.random.normal(key, mu.shape) * jnp.exp(0.5 * logvar)
    h = jax.nn.relu(dense(params["dec"], z)).reshape(-1, 7, 7, 32)
    h = jax.nn.relu(tconv(params["t1"], h, 2))
    h = jax.nn.relu(tconv(params["t2"], h, 2))
    logits = tconv(params["t3"], h, 1)
    nll = jnp.sum(jax.nn.softplus(logits) - x * logits)
    return nll + 0.5 * jnp.sum(mu ** 2 + jnp.exp(logvar) - 1 - logvar)


def main():
    xtr, xte = pc.load(a)
    init, loss_sum = (mlp_init, mlp_loss) if a.arch == "mlp" else (conv_init, conv_loss_sum)
    train_loss = loss_sum if a.arch == "mlp" else (lambda p, x, k: loss_sum(p, x, k) / len(x))

    @jax.jit
    def train_step(params, m, v, t, x, key):
        key, sub = jax.random.split(key)
        grads = jax.grad(train_loss)(params, x, sub)
        t = t + 1
        m = jax.tree.map(lambda m, g: B1 * m + (1 - B1) * g, m, grads)
        v = jax.tree.map(lambda v, g: B2 * v + (1 - B2) * g * g, v, grads)
        c1, c2 = 1 - B1 ** t, 1 - B2 ** t
        params = jax.tree.map(lambda p, m, v: p - LR * (m / c1) / (jnp.sqrt(v / c2) + EPS), params, m, v)
        return params, m, v, t, key

    test_sum = jax.jit(loss_sum)

    key = jax.random.PRNGKey(a.seed)
    key, k_init = jax.random.split(key)
    params = init(k_init)
    m = jax.tree.map(jnp.zeros_like, params)
    v = jax.tree.map(jnp.zeros_like, params)
    t = jnp.float32(0)
    steps = pc.steps_of(a, len(xtr))
    perm = np.random.default_rng(a.seed).permutation(len(xtr))
    idx = pc.batches(perm, steps)
    # Warm-up: compile the step for every batch shape of the run, and the evaluation's (results dropped).
    t0 = time.perf_counter()
    for n in sorted({len(i) for i in idx}):
        jax.block_until_ready(train_step(params, m, v, t, xtr[:n], key))
    for n in sorted({min(pc.BATCH, len(xte) - i) for i in range(0, len(xte), pc.BATCH)}):
        jax.block_until_ready(test_sum(params, xte[:n], key))
    warmup = time.perf_counter() - t0

    t0, c0 = time.perf_counter(), time.process_time()
    for i in idx:
        params, m, v, t, key = train_step(params, m, v, t, xtr[i], key)
    jax.block_until_ready(params)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0

    test = 0.0
    for i in range(0, len(xte), pc.BATCH):
        key, sub = jax.random.split(key)
        test += float(test_sum(params, xte[i:i + pc.BATCH], sub))
    dev = jax.devices()[0]
    threads = 1 if a.threads == "one" else os.cpu_count()
    pc.report(PEER, "JAX (jax.jit step)", jax.__version__, f"XLA {dev.platform.upper()} (the whole step compiled by XLA)", threads, warmup, steps, seconds, cpu, test / len(xte),
              {"threadsNote": "XLA flags for one thread, pinned to one core" if a.threads == "one" else "XLA's default pool"})


main()
