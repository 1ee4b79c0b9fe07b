"""``python -m hub_datasets``: list, build and export any dataset of the package.

    python -m hub_datasets list
    python -m hub_datasets build slip_corpus --config size=100000 --config level_mix='["structural","semantic"]' \
        --num-proc 2 --export out/slip_corpus
    python -m hub_datasets build uci_har_hapt --export out/uci_har_hapt

``--config KEY=VALUE`` sets a field of the builder's config; VALUE is read as JSON when it parses
(numbers, lists, objects), else as a plain string.
"""

from __future__ import annotations

import argparse
import json
import sys

from .export import export_dataset
from .registry import BUILDERS, card_text, get_builder


def _config_value(text: str) -> tuple[str, object]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"--config takes KEY=VALUE (e.g. size=1000), got {text!r}.")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub_datasets", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="print the names of all datasets")
    build = commands.add_parser("build", help="prepare a dataset in the cache and optionally export it")
    build.add_argument("name", choices=sorted(BUILDERS))
    build.add_argument("--config", action="append", type=_config_value, default=[], metavar="KEY=VALUE")
    build.add_argument("--cache-dir", help="datasets cache directory (default: the datasets default)")
    build.add_argument("--num-proc", type=int, help="processes generating the dataset")
    build.add_argument(
        "--export", metavar="DIR", help="write Parquet shards and a README.md dataset card here"
    )
    build.add_argument("--max-shard-mb", type=int, default=500, help="upper bound on a Parquet shard's size")
    args = parser.parse_args(argv)

    if args.command == "list":
        print("\n".join(sorted(BUILDERS)))
        return 0
    builder = get_builder(args.name, args.cache_dir, **dict(args.config))
    builder.download_and_prepare(num_proc=args.num_proc)
    dataset = builder.as_dataset()
    for split, part in dataset.items():
        print(f"{args.name} {split}: {len(part):,} rows")
    if args.export:
        path = export_dataset(
            dataset,
            args.export,
            pretty_name=args.name,
            card_text=card_text(args.name, builder),
            max_shard_bytes=args.max_shard_mb * 2**20,
        )
        print(f"exported to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
