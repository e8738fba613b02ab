"""Build the MNIST sample shipped in ``refsnn/data`` from the MNIST-5k subset.

    python -m data_tools.make_sample ../shared/data/mnist-5k refsnn/data

draws, with ``numpy.random.default_rng(SEED)``, a class-balanced subset:
``TRAIN_PER_CLASS`` digits per class from the 4,000 training digits, then
``TEST_PER_CLASS`` per class from the 1,000 test digits (the same Generator
continues from the first draw to the second). Chosen digits keep their
order in the source files (sorted by class). Output: four gzip IDX files
``mnist-sample-{train,test}-{images-idx3,labels-idx1}-ubyte.gz``; the gzip
headers carry no name or time, so re-running gives byte-identical files.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

from data_tools.batches import stratified_subset
from data_tools.idx import write_idx
from data_tools.mnist import load_mnist

SEED = 20240601
TRAIN_PER_CLASS = 200
TEST_PER_CLASS = 50
PREFIX = "mnist-sample"


def sample_file_names(split: str) -> tuple[str, str]:
    """(images, labels) file names of the shipped sample for ``split`` ("train" | "test")."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return (f"{PREFIX}-{split}-images-idx3-ubyte.gz", f"{PREFIX}-{split}-labels-idx1-ubyte.gz")


def make_sample(source: str | Path, out: str | Path, seed: int = SEED,
                train_per_class: int = TRAIN_PER_CLASS,
                test_per_class: int = TEST_PER_CLASS) -> dict[str, np.ndarray]:
    """Write the four sample files into ``out``; returns the chosen source indices per split."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    chosen = {}
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        x, y = load_mnist(source, split, normalize=False)
        xs, ys, idx = stratified_subset(x, y, per_class, rng, return_indices=True)
        image_name, label_name = sample_file_names(split)
        write_idx(out / image_name, xs[:, 0])
        write_idx(out / label_name, ys.astype(np.uint8))
        chosen[split] = idx
    return chosen


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="MNIST-style IDX directory (e.g. ../shared/data/mnist-5k)")
    parser.add_argument("out", help="output directory (refsnn/data)")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    make_sample(args.source, args.out, seed=args.seed)
    for split in ("train", "test"):
        for name in sample_file_names(split):
            path = Path(args.out) / name
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            print(f"{digest}  {name}  ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
