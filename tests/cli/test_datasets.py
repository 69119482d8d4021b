"""chainrule datasets: the built-in 2-D sets are listed and described with their settings."""

from __future__ import annotations

from chainrule.cli.main import main
from chainrule.data import TOY_DATASETS


def test_list_shows_the_built_in_2d_sets(capsys, tmp_path):
    assert main(["datasets", "list", "--data-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name, toy in TOY_DATASETS.items():
        assert f"{name:<14} built-in 2-D set: {toy.description}" in lines


def test_info_of_a_2d_set_lists_its_settings_and_fetch_is_refused(capsys):
    assert main(["datasets", "info", "spirals"]) == 0
    out = capsys.readouterr().out
    for param in TOY_DATASETS["spirals"].params:
        assert f"  {param.name}: {param.kind}" in out
    assert "default 1.25" in out  # the turns
    assert main(["datasets", "fetch", "moons"]) == 2
    assert "moons is built in (made from a seed): nothing to fetch" in capsys.readouterr().err
