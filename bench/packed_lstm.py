"""Benchmark: K LSTM text models, packed (one vmapped model, vaesweep.packing.lstm) against K
sequential nn.LSTM models, forward + backward, one JSON object out.

Shapes (issue 10):
- synthetic_text: vocabulary 1000, embedding 50, LSTM 50, length 10, batch 32, output layer to
  1000 logits + cross-entropy; K = 1, 4, 16, 64;
- synthetic_text_lstm_only: the same without the output layer (loss = mean square of the
  LSTM outputs), to separate the LSTM from the softmax;
- yahoo_lstm_only: embedding 512, LSTM 1024, length 30, batch 32, no output layer (a 20k-word
  softmax would dominate everything); K = 1, 4.
Each of the K sequential models is its own module run in its own loop iteration, as K
unpacked trials would be (nn.LSTM takes oneDNN's fused kernel on CPU); the packed model holds a
PackableLSTM (nn.LSTM's parameters, computed by vaesweep.packing.lstm.lstm) and each member
gets its own batch. ``--compile`` adds torch.compile(vmap(loss)); its first calls (the
compilation) are reported as the warm-up time. Variants are interleaved round by round; the
rate is the median round.

    python bench/packed_lstm.py [--members 1,4,16,64] [--rounds 5] [--compile] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from vaesweep.packing.hardware import matmul_gflops
from vaesweep.packing.lstm import PackableLSTM

SHAPES = {
    "synthetic_text": {"vocab": 1000, "embed": 50, "hidden": 50, "length": 10, "batch": 32, "output": True},
    "synthetic_text_lstm_only": {
        "vocab": 1000,
        "embed": 50,
        "hidden": 50,
        "length": 10,
        "batch": 32,
        "output": False,
    },
    "yahoo_lstm_only": {
        "vocab": 1000,
        "embed": 512,
        "hidden": 1024,
        "length": 30,
        "batch": 32,
        "output": False,
    },
}
MAX_MEMBERS = {"yahoo_lstm_only": 4}


class TextModel(nn.Module):
    def __init__(self, vocab: int, embed: int, hidden: int, output: bool, packed: bool) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.rnn = PackableLSTM(embed, hidden) if packed else nn.LSTM(embed, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab) if output else None

    def forward(self, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.rnn(self.embed(tokens))
        if self.out is None:
            return outputs.square().mean()
        logits = self.out(outputs)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def flops_per_step(shape: dict) -> int:
    """Matrix-product FLOPs of one member's forward + backward (backward = twice forward)."""
    rows = shape["batch"] * shape["length"]
    per_row = 4 * shape["hidden"] * (shape["embed"] + shape["hidden"])
    if shape["output"]:
        per_row += shape["hidden"] * shape["vocab"]
    return 6 * rows * per_row


def measure(name: str, shape: dict, members: int, rounds: int, compile_: bool) -> dict:
    torch.manual_seed(members)
    config = {k: shape[k] for k in ("vocab", "embed", "hidden", "output")}
    models = [TextModel(**config, packed=False) for _ in range(members)]
    params, buffers = stack_module_state([TextModel(**config, packed=True) for _ in range(members)])
    base = TextModel(**config, packed=True).to("meta")
    tokens = torch.randint(0, shape["vocab"], (members, shape["batch"], shape["length"]))
    targets = torch.randint(0, shape["vocab"], (members, shape["batch"], shape["length"]))

    def member_loss(p, b, x, y):
        return functional_call(base, (p, b), (x, y))

    def sequential() -> None:
        for k, model in enumerate(models):
            model.zero_grad(set_to_none=True)
            model(tokens[k], targets[k]).backward()

    def packed_with(loss_fn):
        def run() -> None:
            for p in params.values():
                p.grad = None
            loss_fn(params, buffers, tokens, targets).sum().backward()

        return run

    runners = {"sequential": sequential, "packed": packed_with(vmap(member_loss))}
    if compile_:
        torch._dynamo.reset()  # a fresh, static compilation per case (no recompile limit, no dynamic shapes)
        runners["packed_compiled"] = packed_with(torch.compile(vmap(member_loss)))
    result: dict = {"shape": name, "members": members}
    for runner_name, run in runners.items():
        start = time.perf_counter()
        run()
        run()
        result[f"{runner_name}_warmup_s"] = round(time.perf_counter() - start, 3)
    calls = max(1, round(64 / members)) if name.startswith("synthetic") else 1
    times: dict[str, list[float]] = {runner_name: [] for runner_name in runners}
    for _ in range(rounds):
        for runner_name, run in runners.items():
            start = time.perf_counter()
            for _ in range(calls):
                run()
            times[runner_name].append((time.perf_counter() - start) / calls)
    flops = flops_per_step(shape) * members
    for runner_name, values in times.items():
        seconds = statistics.median(values)
        result[f"{runner_name}_ms"] = round(seconds * 1e3, 3)
        result[f"{runner_name}_gflops"] = round(flops / seconds / 1e9, 2)
    for runner_name in runners:
        if runner_name != "sequential":
            result[f"{runner_name}_speedup"] = round(result["sequential_ms"] / result[f"{runner_name}_ms"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", default="1,4,16,64")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile(vmap(loss))")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cases = []
    for name in args.shapes.split(","):
        for members in (int(k) for k in args.members.split(",")):
            if members <= MAX_MEMBERS.get(name, members):
                cases.append(measure(name, SHAPES[name], members, args.rounds, args.compile))
    print(
        json.dumps(
            {
                "benchmark": "packed_lstm",
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "matmul_gflops_fp32": round(matmul_gflops(), 1),
                "cases": cases,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
