"""The datasets subcommand: list the registered datasets and the built-in 2-D sets, describe
one, or download one."""

from __future__ import annotations

import argparse
import contextlib

from chainrule.cli.command import Command, CommandError


def add_datasets_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "info", "fetch"))
    parser.add_argument(
        "name", nargs="?", help="mnist, fashion-mnist, kmnist, or a 2-D set (xor, moons, ...)"
    )
    parser.add_argument("--data-dir", metavar="DIR", help="also look here")
    parser.add_argument("--cache-dir", metavar="DIR", help="download here (fetch)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_datasets(args: argparse.Namespace) -> int:
    from chainrule.data import TOY_DATASETS, available_datasets, fetch, get_dataset_info

    if args.action == "list":
        for name in available_datasets():
            info = get_dataset_info(name)
            where = ", ".join(
                f"{split}: {files.images.parent}" for split, files in _on_disk(name, args).items()
            )
            print(f"{name:<14} {info.title}: {where or 'not on disk (chainrule datasets fetch)'}")
        for name, toy in TOY_DATASETS.items():
            print(f"{name:<14} built-in 2-D set: {toy.description}")
        return 0
    if not args.name:
        raise CommandError(
            f"datasets {args.action} needs a dataset name: "
            f"{', '.join([*available_datasets(), *TOY_DATASETS])}"
        )
    toy = TOY_DATASETS.get(args.name.strip().lower())
    if toy is not None:
        if args.action == "fetch":
            raise CommandError(f"{toy.name} is built in (made from a seed): nothing to fetch")
        print(f"{toy.name}: {toy.description} (built in, 2 features, made from data.seed)")
        print("settings (recipe keys data.<name>, or --set data.<name>=VALUE):")
        for param in toy.params:
            print(f"  {param.describe()}")
        return 0
    info = get_dataset_info(args.name)
    if args.action == "info":
        print(f"{info.title} ({info.name})\n{info.description}\nhomepage: {info.homepage}")
        print(f"classes: {', '.join(info.class_names)}")
        for remote in info.files():
            print(f"  {remote.name:<28} {remote.size:>12,} bytes")
        for split, files in _on_disk(info.name, args).items():
            print(f"on disk ({split}): {files.images.parent}")
        return 0
    found = fetch(info, args.cache_dir, progress=not args.quiet)
    for split, files in found.items():
        print(f"{split}: {files.images}  {files.labels}")
    return 0


def _on_disk(name: str, args: argparse.Namespace) -> dict:
    """Each split of ``name`` found on disk (no download, no error for missing splits)."""
    from chainrule.data import DatasetNotFoundError, locate

    found = {}
    for split in ("train", "test"):
        with contextlib.suppress(DatasetNotFoundError):
            found.update(locate(name, args.data_dir, splits=(split,), cache_dir=args.cache_dir))
    return found


DATASETS = Command(
    name="datasets",
    help="list, describe or download the MNIST-format datasets; the built-in 2-D sets",
    description="list: the registered datasets and where they are on disk, and the built-in "
    "2-D sets; info NAME: files, sizes, classes (a 2-D set: its settings); fetch NAME: "
    "download into the user cache with checksums.",
    add_arguments=add_datasets_arguments,
    run=run_datasets,
)
