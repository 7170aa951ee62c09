#!/usr/bin/env python3
"""PyTorch reference for the LeNets of model/networks/lenet.ts on Fashion-MNIST,
layer for layer (PyTorch's default initialisation): the quick recipe's
LeNet with ReLU and max pooling (`--model lenet-relu`, the default, batch
128) and the book's sigmoid LeNet with average pooling and conv1 padded by
2 (`--model lenet`; its recipe's batch is 256: `--batch 256`). Adam lr
1e-3, the training set reshuffled each epoch, evaluated on the whole test
set after each epoch. Prints d2l-style lines, as
../shared/reference/torch_alexnet.py --epochs does:

    /usr/bin/python3 tools/torch_lenet.py --epochs 5
    /usr/bin/python3 tools/torch_lenet.py --model lenet --batch 256 --epochs 5
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F


def read_idx(folder, name):
    path = os.path.join(folder, name)
    with gzip.open(path + ".gz") if os.path.exists(path + ".gz") else open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def lenet_relu():
    """LeNet with ReLU and max pooling, as model/networks/lenet.ts builds it."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def lenet_sigmoid():
    """The book's LeNet: sigmoid and average pooling, as model/networks/lenet.ts builds it."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(),
        nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


MODELS = {"lenet-relu": lenet_relu, "lenet": lenet_sigmoid}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=sorted(MODELS), default="lenet-relu")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)

    def split(prefix):
        x = read_idx(args.data, f"{prefix}-images-idx3-ubyte").astype(np.float32) / 255
        y = read_idx(args.data, f"{prefix}-labels-idx1-ubyte").astype(np.int64)
        return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)

    train_x, train_y = split("train")
    test_x, test_y = split("t10k")
    net = MODELS[args.model]()
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    for epoch in range(args.epochs):
        start = time.perf_counter()
        net.train()
        order = torch.randperm(len(train_y), generator=generator)
        loss_sum, correct = 0.0, 0
        for at in range(0, len(order), args.batch):
            indices = order[at:at + args.batch]
            logits = net(train_x[indices])
            loss = F.cross_entropy(logits, train_y[indices])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(indices)
            correct += (logits.argmax(1) == train_y[indices]).sum().item()
        seconds = time.perf_counter() - start
        net.eval()
        with torch.no_grad():
            test_correct = sum((net(test_x[i:i + 1000]).argmax(1) == test_y[i:i + 1000]).sum().item()
                               for i in range(0, len(test_y), 1000))
        print(f"epoch {epoch + 1}, loss {loss_sum / len(train_y):.3f}, "
              f"train acc {correct / len(train_y):.3f}, test acc {test_correct / len(test_y):.3f}, "
              f"time {seconds:.1f} sec", flush=True)


if __name__ == "__main__":
    main()
