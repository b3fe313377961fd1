"""What the two PyTorch reference scripts share: reading MNIST's IDX files, and running on n threads."""
import ctypes
import gzip
import os

import numpy as np
import torch


def read_idx(path):
    """An IDX file, or its gzipped copy PATH.gz where PATH is absent (Debian's Fashion-MNIST is gzipped)."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        with gzip.open(path + ".gz", "rb") as f:
            data = f.read()
    else:
        with open(path, "rb") as f:
            data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def set_threads(n):
    """Run on n threads: torch's own pool and the BLAS library's. Debian's torch calls the system OpenBLAS,
    whose thread pool torch.set_num_threads does not reach (with n = 1 it still ran a second, busy thread)."""
    torch.set_num_threads(n)
    with open("/proc/self/maps") as f:
        libs = {line.split()[-1] for line in f if "/libopenblas" in line}
    for lib in libs:
        ctypes.CDLL(lib).openblas_set_num_threads(n)
