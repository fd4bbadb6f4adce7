"""The PyTorch side of bench/profile.ts: one peer workload of ../shared/peers/, repeated.

Loads the peer's model from its script (the same model, inputs and optimiser as its own main), warms
it up, prints "@@profile-warm", repeats the step for --seconds, and prints "@@profile-result" with
the steps it took, as JSON. bench/profile.ts attaches `perf record` between the two lines.

    python _profile_peer.py --workload prior-train|prior-sample|dvae-train [--compile] [--seconds 10]
"""
import argparse, importlib.util, json, os, sys, time

import torch

PEERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "peers")


def load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(PEERS, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # torch.compile imports the model's module by name
    spec.loader.exec_module(module)
    return module


def prior_step(compile_, sample):
    p = load("torch_prior")
    model = p.Prior()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    fwd = torch.compile(model) if compile_ else model
    batch = 16
    text = torch.randint(0, p.VT, (batch, p.T))
    pad = torch.zeros(batch, p.T, dtype=torch.bool)
    pad[:, p.T // 2:] = True
    img = torch.randint(0, p.VI, (batch, p.N * p.N))
    if sample:
        return lambda: model.sample(text, pad)

    def step():
        opt.zero_grad(set_to_none=True)
        fwd(text, pad, img).backward()
        opt.step()
    return step


def dvae_step(compile_):
    d = load("torch_dvae")
    model = d.DVAE(hid=64, vocab=512)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-4)
    x = torch.rand(32, 3, 32, 32)
    lossf = lambda x: model.loss(x, tau=1.0, beta=6.6)
    if compile_:
        lossf = torch.compile(lossf)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = lossf(x)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", required=True, choices=["prior-train", "prior-sample", "dvae-train"])
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.workload == "dvae-train":
        step = dvae_step(a.compile)
    else:
        step = prior_step(a.compile, a.workload == "prior-sample")
    for _ in range(a.warmup):
        step()
    print("@@profile-warm", flush=True)
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < a.seconds:
        step()
        steps += 1
    seconds = time.perf_counter() - t0
    print("@@profile-result " + json.dumps({"steps": steps, "seconds": seconds,
                                            "version": torch.__version__}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
