"""Grid files: expansion into runs, their names, and the errors a user can trigger."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chainrule.sweep.grid import GridError, load_grid, parse_grid, value_label

RECIPES = Path(__file__).resolve().parents[2] / "recipes"

BASE = {"model": {"hidden": [16]}, "training": {"epochs": 5}}


def grid(**keys):
    return parse_grid({"base": BASE, **keys}, source="grid.yaml")


def test_axes_expand_as_a_cartesian_product_in_grid_order():
    expanded = grid(
        axes={
            "model.activation": ["relu", "sigmoid", "tanh"],
            "model.init": ["normal", "glorot_normal", "he_normal"],
            "training.mode": ["stochastic", "batch", "minibatch"],
        }
    )
    assert len(expanded.points) == 27
    first, last = expanded.points[0], expanded.points[-1]
    assert first.name == "relu-normal-stochastic"
    assert last.name == "tanh-he_normal-minibatch"
    assert last.factors == {
        "model.activation": "tanh",
        "model.init": "he_normal",
        "training.mode": "minibatch",
    }
    assert last.recipe.model.activation == "tanh"
    assert last.recipe.training.mode == "minibatch"
    assert last.recipe.model.hidden == [16]  # the base is kept where no axis changes it
    assert [p.position for p in expanded.points] == list(range(27))
    assert len({p.name for p in expanded.points}) == 27
    assert expanded.levels("training.mode") == ["stochastic", "batch", "minibatch"]


def test_names_are_stable_across_expansions():
    axes = {"model.activation": ["relu", "tanh"], "training.learning_rate": [0.1, 1e-3]}
    names = [p.name for p in grid(axes=axes).points]
    assert names == [p.name for p in grid(axes=axes).points]
    assert names == ["relu-0.1", "relu-0.001", "tanh-0.1", "tanh-0.001"]


def test_variants_alone_and_crossed_with_axes():
    variants = {
        "sgd": {"training.optimizer": "sgd"},
        "adam": {"training.optimizer": {"name": "adam", "learning_rate": 0.001}},
    }
    alone = grid(variants=variants)
    assert [p.name for p in alone.points] == ["sgd", "adam"]
    assert alone.points[1].recipe.training.optimizer == {"name": "adam", "learning_rate": 0.001}
    assert alone.factors == ["variant"]

    crossed = grid(variants=variants, axes={"model.hidden": [[32], [64, 64]]})
    assert [p.name for p in crossed.points] == ["sgd-32", "sgd-64x64", "adam-32", "adam-64x64"]
    assert crossed.points[3].factors == {"variant": "adam", "model.hidden": "64x64"}
    assert crossed.points[3].recipe.model.hidden == [64, 64]


def test_labelled_levels_name_long_values():
    depth = grid(axes={"model.hidden": {"1x64": [64], "10x64": [64] * 10}})
    assert [p.name for p in depth.points] == ["1x64", "10x64"]
    assert depth.points[1].recipe.model.hidden == [64] * 10


def test_value_labels():
    assert value_label("he_normal") == "he_normal"
    assert value_label(0.001) == "0.001"
    assert value_label([64, 64]) == "64x64"
    assert value_label(True) == "true"
    assert value_label({"name": "adam", "learning_rate": 0.01}) == "adam_learning_rate=0.01"
    assert value_label("a/b c") == "a_b_c"  # safe as a directory name


def test_a_hash_keeps_clashing_and_long_names_apart():
    clashing = grid(axes={"name": ["a b", "a_b"]})  # both read a_b once made file-safe
    names = [p.name for p in clashing.points]
    assert names[0] == "a_b" and names[1].startswith("a_b~") and len(set(names)) == 2

    long = grid(axes={"model.hidden": [[64] * 30]})
    assert len(long.points[0].name) <= 64 and "~" in long.points[0].name


def test_base_from_a_file_relative_to_the_grid(tmp_path):
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "base.yaml").write_text(yaml.safe_dump(BASE))
    path = tmp_path / "recipes" / "g.yaml"
    path.write_text(yaml.safe_dump({"base": "base.yaml", "axes": {"seed": [0, 1]}}))
    loaded = load_grid(path)
    assert loaded.name == "g"  # the file's stem when the grid has no name
    assert [p.recipe.seed for p in loaded.points] == [0, 1]
    assert loaded.points[0].recipe.model.hidden == [16]
    assert loaded.text == path.read_text()


def test_overrides_apply_to_the_base_and_epochs_caps_every_run():
    expanded = parse_grid(
        {"base": BASE, "axes": {"training.epochs": [2, 50]}},
        source="grid.yaml",
        overrides=["data.dataset=fashion-mnist", "model.hidden=[8]"],
        epochs=3,
    )
    assert {p.recipe.data.dataset for p in expanded.points} == {"fashion-mnist"}
    assert expanded.points[0].recipe.model.hidden == [8]
    assert [p.recipe.training.epochs for p in expanded.points] == [2, 3]


def test_shipped_grids_expand():
    sizes = {"grid-activation-init-mode": 27, "grid-width": 3, "grid-depth": 3}
    for name, size in sizes.items():
        loaded = load_grid(RECIPES / f"{name}.yaml")
        assert len(loaded.points) == size
        assert loaded.name == name
    depth = load_grid(RECIPES / "grid-depth.yaml")
    assert [len(p.recipe.model.hidden) for p in depth.points] == [1, 2, 10]


# -- errors ----------------------------------------------------------------------------------
def test_a_bad_axis_value_fails_up_front_naming_the_axis_and_the_value():
    with pytest.raises(GridError, match=r"axis 'model.activation' value 'swish'.*activation"):
        grid(axes={"model.activation": ["relu", "swish"]})


def test_a_misspelled_axis_key_lists_the_valid_keys():
    with pytest.raises(GridError, match=r"axis 'model.activaton'.*valid keys in model"):
        grid(axes={"model.activaton": ["relu"]})


def test_a_point_invalid_only_in_combination_names_the_run():
    with pytest.raises(GridError, match=r"run 'x-32' \(model.layers=.*model.hidden=\[32\]\)"):
        parse_grid(
            {
                "variants": {"x": {"model.layers": [{"type": "dense", "units": 8}]}},
                "axes": {"model.hidden": [[32]]},
            },
            source="grid.yaml",
        )


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({}, "needs 'axes'"),
        ({"axes": {"seed": 3}}, "axis 'seed' must be a list"),
        ({"axes": {"seed": []}}, "axis 'seed' has no values"),
        ({"axes": {"seed": [1, 1]}}, "lists the value 1 twice"),
        ({"axes": {"": [1]}}, "not a dotted recipe key"),
        ({"axes": ["seed"]}, "'axes' maps recipe keys"),
        ({"variants": {"a": 3}}, "variant 'a' maps dotted recipe keys"),
        ({"axis": {"seed": [1]}}, "unknown key 'axis' in the grid; valid keys: name"),
        ({"base": 3, "axes": {"seed": [1]}}, "'base' is a recipe file"),
    ],
)
def test_grid_errors(keys, message):
    raw = {"base": BASE, **keys}
    with pytest.raises(GridError, match=message):
        parse_grid(raw, source="grid.yaml")


def test_a_bad_base_recipe_is_named():
    with pytest.raises(GridError, match=r"grid.yaml \(base recipe\).*training.epochs"):
        parse_grid({"base": {"training": {"epochs": 0}}, "axes": {"seed": [1]}}, "grid.yaml")


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="grid file not found"):
        load_grid(tmp_path / "nope.yaml")
    path = tmp_path / "g.yaml"
    path.write_text("base: missing.yaml\naxes: {seed: [1]}\n")
    with pytest.raises(FileNotFoundError, match=r"base recipe file not found: .*missing.yaml"):
        load_grid(path)


def test_each_run_describes_what_it_changes_in_the_base(tmp_path):
    grid = load_grid(RECIPES / "grid-width.yaml")
    for point in grid.points:
        described = point.recipe.description
        assert described.startswith(f"Run {point.name} of sweep {grid.name}: ")
        for key in point.overrides:
            assert key in described
