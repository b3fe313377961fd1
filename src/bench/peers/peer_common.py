"""What the peer scripts of `vae-lab bench --peers` share: their command line, the MNIST files vae-lab
read (IDX, plain or gzipped), the thread setting, and the one JSON line each prints.

Every peer trains the reference epoch of test/reference/pytorch_vae.py (the pytorch/examples VAE: 784-400-20,
ReLU, sigmoid + BCE summed over pixels and batch, analytic KL, Adam 1e-3, batch 128, shuffled) or, with
--arch conv, of test/reference/pytorch_conv_vae.py (the TensorFlow convolutional-VAE tutorial's model, z = 2,
threshold-binarised, the loss per image), on the data in memory, then evaluates the test -ELBO (one draw of z
per image) on the whole test set. It prints one line of JSON:
  {"peer", "framework", "version", "backend", "threads", "warmupSeconds", "steps", "seconds",
   "secondsPerEpoch", "cpuSecondsPerEpoch", "testLoss"}
or, where the framework cannot run here, {"peer", "skipped": reason} (exit code 3).
Compilation and tracing happen in a warm-up outside the timing (the weights and optimizer state are reset
after it) and are reported as warmupSeconds.
"""
import argparse, gzip, json, os, sys

try:
    import numpy as np
except ImportError:  # reported as a skip by parse_args, which knows the peer's name
    np = None

BATCH = 128
TRAIN_IMAGES = 60000
SKIPPED = 3


def parse_args(peer, extra=None):
    p = argparse.ArgumentParser(description=f"vae-lab bench peer: {peer}")
    p.add_argument("--arch", choices=["mlp", "conv"], default="mlp")
    p.add_argument("--train", required=True, help="MNIST training images (IDX, plain or .gz), as vae-lab read them")
    p.add_argument("--test", required=True, help="MNIST test images (IDX, plain or .gz)")
    p.add_argument("--steps", type=int, default=0, help="train only this many steps (0 = one epoch)")
    p.add_argument("--threads", choices=["one", "default"], default="one")
    p.add_argument("--seed", type=int, default=1)
    if extra:
        extra(p)
    a = p.parse_args()
    if np is None:
        skip(peer, f"no NumPy in {sys.executable}")
    return a


def skip(peer, reason):
    print(json.dumps({"peer": peer, "skipped": reason}), flush=True)
    sys.exit(SKIPPED)


def one_thread_env():
    """Before any framework is imported: its thread pools (BLAS, OpenMP, Eigen, XLA) to one thread."""
    for v in ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"]:
        os.environ[v] = "1"
    flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(a):
    """Training and test images as float32 [N, 784] in [0, 1]; threshold-binarised (> 0.5) for the conv model."""
    out = []
    for path in [a.train, a.test]:
        x = read_idx(path).reshape(-1, 784).astype(np.float32) / 255.0
        if a.arch == "conv":
            x = (x > 0.5).astype(np.float32)
        out.append(np.ascontiguousarray(x))
    return out


def steps_of(a, n):
    per_epoch = (n + BATCH - 1) // BATCH
    return per_epoch if a.steps <= 0 else min(a.steps, per_epoch)


def batches(perm, steps):
    """The index batches of one epoch's first `steps` steps (the last batch of a full epoch is short: 96)."""
    return [perm[i * BATCH:(i + 1) * BATCH] for i in range(steps)]


def report(peer, framework, version, backend, threads, warmup, steps, seconds, cpu, test_loss, extra=None):
    per_epoch = (TRAIN_IMAGES + BATCH - 1) // BATCH / steps
    out = {"peer": peer, "framework": framework, "version": version, "backend": backend, "threads": threads,
           "warmupSeconds": warmup, "steps": steps, "seconds": seconds, "secondsPerEpoch": seconds * per_epoch,
           "cpuSecondsPerEpoch": cpu * per_epoch, "testLoss": test_loss}
    out.update(extra or {})
    print(json.dumps(out), flush=True)
