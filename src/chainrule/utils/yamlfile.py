"""Reading the YAML files users write (recipes, worked-example specs) with errors that help."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def read_yaml_mapping(
    path: Path, what: str, error: type[ValueError] = ValueError, keys: str = ""
) -> dict[str, Any]:
    """The top-level mapping of ``path``; ``what`` names it in errors ("a recipe", "a spec"),
    ``keys`` hints at what the mapping holds ("input, target, layers, ...").

    Invalid YAML or a top level that is not a mapping raise ``error`` naming the file. An
    empty file is an empty mapping.
    """
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as problem:
        raise error(f"{path}: not valid YAML: {problem}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        hint = f" ({keys})" if keys else ""
        raise error(f"{path}: {what} is a mapping of keys{hint}, got {type(raw).__name__}")
    return raw
