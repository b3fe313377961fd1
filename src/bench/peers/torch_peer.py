#!/usr/bin/env python3
"""vae-lab bench peer: PyTorch 2 on the CPU, eager or (--compile) with the model's forward and backward
under torch.compile. The models and loss are those of test/reference/pytorch_vae.py and pytorch_conv_vae.py
(nn.Linear's and, for the conv model, Glorot-uniform initialisation). See peer_common.py for the output."""
import copy, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common as pc

a = pc.parse_args("torch", lambda p: p.add_argument("--compile", action="store_true"))
PEER = "torch-compile" if a.compile else "torch"
if a.threads == "one":
    pc.one_thread_env()
try:
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError as e:
    pc.skip(PEER, f"no PyTorch in {sys.executable} ({e})")


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def forward(self, x):
        h1 = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h1), self.fc22(h1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        recon = torch.sigmoid(self.fc4(F.relu(self.fc3(z))))
        bce = F.binary_cross_entropy(recon, x, reduction="sum")
        return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


class ConvVAE(nn.Module):
    def __init__(self, z=2):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 32, 3, stride=2), nn.Conv2d(32, 64, 3, stride=2)
        self.enc, self.dec = nn.Linear(64 * 6 * 6, 2 * z), nn.Linear(z, 7 * 7 * 32)
        self.t1, self.t2 = nn.ConvTranspose2d(32, 64, 3, stride=2), nn.ConvTranspose2d(64, 32, 3, stride=2)
        self.t3 = nn.ConvTranspose2d(32, 1, 3, stride=1, padding=1)
        self.z = z
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        """The negative ELBO summed over the batch (the training loss divides it by the batch size)."""
        x = x.view(-1, 1, 28, 28)
        out = self.enc(F.relu(self.c2(F.relu(self.c1(x)))).flatten(1))
        mu, logvar = out[:, : self.z], out[:, self.z:]
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        h = F.relu(self.dec(z)).view(-1, 32, 7, 7)
        h = F.relu(self.t1(h)[:, :, :14, :14])
        h = F.relu(self.t2(h)[:, :, :28, :28])
        nll = F.binary_cross_entropy_with_logits(self.t3(h), x, reduction="sum")
        return nll + 0.5 * torch.sum(mu.pow(2) + logvar.exp() - 1 - logvar)


def main():
    if a.threads == "one":
        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
    torch.manual_seed(a.seed)
    xtr_np, xte_np = pc.load(a)
    xtr, xte = torch.from_numpy(xtr_np), torch.from_numpy(xte_np)
    model = VAE() if a.arch == "mlp" else ConvVAE()
    per_image = a.arch == "conv"  # the conv reference trains on the loss per image, the MLP on the sum
    loss_of = model
    if a.compile:
        try:
            loss_of = torch.compile(model)
        except Exception as e:  # noqa: BLE001 - any failure to set up compilation is a reason to skip
            pc.skip(PEER, f"torch.compile unavailable: {str(e).splitlines()[0]}")

    def step(opt, x):
        opt.zero_grad()
        loss = loss_of(x)
        (loss / len(x) if per_image else loss).backward()
        opt.step()

    steps = pc.steps_of(a, len(xtr))
    short = len(xtr) - (len(xtr) // pc.BATCH) * pc.BATCH
    # Warm-up outside the timing (for torch.compile: tracing and compiling both batch shapes), then the
    # initial weights back and a new optimizer.
    initial = copy.deepcopy(model.state_dict())
    t0 = time.perf_counter()
    try:
        warm = torch.optim.Adam(model.parameters(), lr=1e-3)
        for n in [pc.BATCH] + ([short] if short and steps * pc.BATCH > len(xtr) - short else []):
            step(warm, xtr[:n])
    except Exception as e:  # noqa: BLE001
        if not a.compile:
            raise
        pc.skip(PEER, f"torch.compile failed here: {str(e).strip().splitlines()[0][:200]}")
    warmup = time.perf_counter() - t0
    model.load_state_dict(initial)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    model.train()
    perm = torch.randperm(len(xtr))
    t0, c0 = time.perf_counter(), time.process_time()
    for idx in pc.batches(perm, steps):
        step(opt, xtr[idx])
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0

    model.eval()
    test = 0.0
    with torch.no_grad():
        for i in range(0, len(xte), pc.BATCH):
            test += loss_of(xte[i:i + pc.BATCH]).item()
    blas = "MKL" if torch.backends.mkl.is_available() else "?"
    dnn = "oneDNN" if torch.backends.mkldnn.is_available() else ""
    backend = " + ".join(b for b in [blas, dnn] if b)
    cfg = torch.__config__.show()
    for line in cfg.splitlines():
        if "BLAS_INFO" in line:
            backend += f" (BLAS_INFO={line.split('BLAS_INFO=')[1].split(',')[0]})"
            break
    isa = getattr(torch.backends.cpu, "get_cpu_capability", lambda: "")()
    pc.report(PEER, "PyTorch" + (" (torch.compile)" if a.compile else " (eager)"), torch.__version__, backend + (f", {isa}" if isa else ""),
              torch.get_num_threads(), warmup, steps, seconds, cpu, test / len(xte))


main()
