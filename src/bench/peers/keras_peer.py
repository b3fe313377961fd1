#!/usr/bin/env python3
"""vae-lab bench peer: Keras 3 on TensorFlow, the training step (forward, gradient, Adam) under
tf.function(jit_compile=True), i.e. compiled by XLA. Keras layers; the MLP's weights initialised as
nn.Linear's (uniform on +-1/sqrt(fan_in)), the conv model's Glorot-uniform with zero biases (Keras's
defaults, the tutorial's); Adam 1e-3 with eps 1e-8 (PyTorch's). See peer_common.py."""
import os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common as pc

PEER = "keras"
a = pc.parse_args(PEER)
if a.threads == "one":
    pc.one_thread_env()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERAS_BACKEND"] = "tensorflow"
try:
    import numpy as np
    import tensorflow as tf
    import keras
    from keras import layers
except ImportError as e:
    pc.skip(PEER, f"no Keras 3 with TensorFlow in {sys.executable} ({e})")
if not keras.__version__.startswith("3"):
    pc.skip(PEER, f"Keras {keras.__version__} is not Keras 3")


def torch_linear(fan_in, units, **kw):
    bound = 1 / np.sqrt(fan_in)
    init = lambda: keras.initializers.RandomUniform(-bound, bound)
    return layers.Dense(units, kernel_initializer=init(), bias_initializer=init(), **kw)


def mlp():
    x = keras.Input((784,))
    h = torch_linear(784, 400, activation="relu")(x)
    mu, logvar = torch_linear(400, 20)(h), torch_linear(400, 20)(h)
    enc = keras.Model(x, [mu, logvar])
    z = keras.Input((20,))
    dec = keras.Model(z, torch_linear(400, 784)(torch_linear(20, 400, activation="relu")(z)))
    return enc, dec


def conv():
    x = keras.Input((28, 28, 1))
    h = layers.Conv2D(32, 3, strides=2, activation="relu")(x)
    h = layers.Conv2D(64, 3, strides=2, activation="relu")(h)
    out = layers.Dense(4)(layers.Flatten()(h))
    enc = keras.Model(x, [out[:, :2], out[:, 2:]])
    z = keras.Input((2,))
    h = layers.Reshape((7, 7, 32))(layers.Dense(7 * 7 * 32, activation="relu")(z))
    h = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu")(h)
    h = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(h)
    dec = keras.Model(z, layers.Conv2DTranspose(1, 3, strides=1, padding="same")(h))
    return enc, dec


def main():
    if a.threads == "one":
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(a.seed)
    xtr, xte = pc.load(a)
    shape = (-1, 784) if a.arch == "mlp" else (-1, 28, 28, 1)
    enc, dec = mlp() if a.arch == "mlp" else conv()
    weights = enc.trainable_variables + dec.trainable_variables
    opt = keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-8)
    opt.build(weights)

    def loss_sum(x):
        mu, logvar = enc(x)
        z = mu + tf.random.normal(tf.shape(mu)) * tf.exp(0.5 * logvar)
        logits = dec(z)
        nll = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits))
        return nll - 0.5 * tf.reduce_sum(1 + logvar - mu ** 2 - tf.exp(logvar))

    @tf.function(jit_compile=True)
    def train_step(x):
        with tf.GradientTape() as tape:
            loss = loss_sum(x)
            if a.arch == "conv":  # the conv reference trains on the loss per image, the MLP on the sum
                loss = loss / tf.cast(tf.shape(x)[0], tf.float32)
        opt.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return loss

    test_sum = tf.function(loss_sum, jit_compile=True)
    steps = pc.steps_of(a, len(xtr))
    perm = np.random.default_rng(a.seed).permutation(len(xtr))
    idx = pc.batches(perm, steps)
    # Warm-up: trace and compile the step for every batch shape of the run, then the initial weights and
    # optimizer state back.
    state = [(v, v.numpy()) for v in weights + list(opt.variables)]
    t0 = time.perf_counter()
    for n in sorted({len(i) for i in idx}):
        train_step(tf.constant(xtr[:n].reshape(shape))).numpy()
    warmup = time.perf_counter() - t0
    for v, value in state:
        v.assign(value)

    t0, c0 = time.perf_counter(), time.process_time()
    for i in idx:
        loss = train_step(tf.constant(xtr[i].reshape(shape)))
    loss.numpy()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0

    test = 0.0
    for i in range(0, len(xte), pc.BATCH):
        test += float(test_sum(tf.constant(xte[i:i + pc.BATCH].reshape(shape))))
    threads = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
    pc.report(PEER, "Keras 3 (TensorFlow, jit_compile)", f"{keras.__version__} (TensorFlow {tf.__version__})",
              "XLA CPU (the whole step compiled by XLA)",
              threads, warmup, steps, seconds, cpu, test / len(xte))


main()
