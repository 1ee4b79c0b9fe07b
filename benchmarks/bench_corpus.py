"""Build a pretraining corpus of N pairs and report pairs/s and its size on disk.

    python benchmarks/bench_corpus.py --size 100000 --num-proc 2

Target (issue 4): 100K pairs in under 10 minutes on 2 CPU cores. Source recordings are read (and the HAPT and
neurokit2 conversions cached) before the clock starts, as a second build would find them.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from hub_datasets.corpus import SlipCorpus
from hub_datasets.export import export_dataset
from hub_datasets.sources import SOURCES


def _size(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--num-proc", type=int, default=2)
    parser.add_argument("--shard-size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", help="keep the built corpus here (default: a temporary folder)")
    args = parser.parse_args()

    for source in SOURCES.values():
        list(source.recordings())
    with tempfile.TemporaryDirectory() as scratch:
        cache_dir = Path(args.cache_dir or scratch)
        builder = SlipCorpus(
            cache_dir=str(cache_dir), size=args.size, shard_size=args.shard_size, seed=args.seed
        )
        start = time.perf_counter()
        builder.download_and_prepare(num_proc=args.num_proc if args.num_proc > 1 else None)
        seconds = time.perf_counter() - start
        dataset = builder.as_dataset("train")
        exported = export_dataset(builder.as_dataset(), cache_dir / "export")
        print(f"pairs: {len(dataset):,}  processes: {args.num_proc}  seconds: {seconds:.1f}")
        print(
            f"pairs/s: {len(dataset) / seconds:.1f}  (100K pairs would take {1e5 / (len(dataset) / seconds) / 60:.1f} min)"
        )
        print(
            f"arrow cache: {_size(Path(builder.cache_dir)) / 2**20:.1f} MiB  parquet: {_size(exported) / 2**20:.1f} MiB"
        )


if __name__ == "__main__":
    main()
