"""Recipes: every shipped recipe validates, and each user mistake gets a message that helps."""

from pathlib import Path

import pytest

from chainrule.app.recipes import RecipeError, load_recipe, parse_recipe

RECIPES = sorted(
    path
    for path in (Path(__file__).resolve().parents[2] / "recipes").glob("*.yaml")
    if not path.name.startswith("grid-")  # sweep grids: tested in tests/sweep
)


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_every_shipped_recipe_validates_and_builds(path):
    recipe = load_recipe(path)
    model = recipe.build_model()
    assert model.count_params() > 0
    recipe.build_optimizer()


def test_mlp_shorthand_builds_the_described_network():
    recipe = parse_recipe(
        {"model": {"hidden": [128, 64], "activation": "relu", "init": "he_normal", "dropout": 0.2}}
    )
    model = recipe.build_model()
    types = [layer.type_name for layer in model.layers]
    assert types == ["dense", "relu", "dropout", "dense", "relu", "dropout", "dense", "softmax"]
    assert model.count_params() == 109_386
    assert model.layers[0].kernel_initializer.get_config()["name"] == "he_normal"


def test_explicit_layers_and_binary_target():
    recipe = parse_recipe(
        {
            "data": {"binary_target": 7, "shape": "image"},
            "model": {
                "layers": [
                    "flatten",
                    {"type": "dense", "units": 16},
                    "relu",
                    {"type": "dense", "units": 1},
                    "sigmoid",
                ]
            },
        }
    )
    model = recipe.build_model()
    assert model.input_shape == (1, 28, 28)
    assert model.loss.type_name == "binary_crossentropy"
    assert model._fused_loss is not None


def test_same_seed_same_model():
    first = parse_recipe({"seed": 5}).build_model().params.data
    second = parse_recipe({"seed": 5}).build_model().params.data
    assert (first == second).all()


def test_learning_rate_fills_in_for_the_optimizer():
    recipe = parse_recipe({"training": {"optimizer": "momentum", "learning_rate": 0.02}})
    assert recipe.build_optimizer().learning_rate == 0.02
    explicit = parse_recipe({"training": {"optimizer": {"name": "adam", "learning_rate": 0.003}}})
    assert explicit.build_optimizer().learning_rate == 0.003


def test_overrides_set_nested_keys_from_yaml_values():
    recipe = parse_recipe({}, overrides=["model.hidden=[32, 16]", "training.epochs=3"])
    assert recipe.model.hidden == [32, 16]
    assert recipe.training.epochs == 3
    with pytest.raises(RecipeError, match="key=value"):
        parse_recipe({}, overrides=["training.epochs"])


# -- errors a user can make -------------------------------------------------------------------
def write(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


def test_unknown_key_names_the_file_and_lists_the_valid_keys(tmp_path):
    path = write(tmp_path, "model:\n  hiden: [64]\n")
    with pytest.raises(
        RecipeError, match=r"bad.yaml: unknown key 'model.hiden'; valid keys in model: hidden"
    ):
        load_recipe(path)


def test_unknown_top_level_key(tmp_path):
    with pytest.raises(
        RecipeError, match="unknown key 'trainig'; valid keys in the top level: name"
    ):
        load_recipe(write(tmp_path, "trainig: {}\n"))


def test_bad_values_name_the_key_and_the_choices(tmp_path):
    cases = {
        "model: {activation: relux}": "model.activation: unknown activation 'relux'; valid activations: identity, relu",
        "model: {init: gaussian}": "model.init: unknown initializer 'gaussian'",
        "training: {optimizer: adamx}": "training.optimizer: unknown optimizer 'adamx'; valid optimizers: sgd",
        "training: {mode: online}": "training.mode: Input should be 'minibatch', 'stochastic' or 'batch'",
        "training: {epochs: zero}": "training.epochs: Input should be a valid integer",
        "model: {hidden: [64, 0]}": "hidden widths must be positive",
        "model: {layers: [{type: dense}]}": "layer 1: layer type 'dense'",
        "model: {loss: hinge}": "unknown loss 'hinge'",
    }
    for text, message in cases.items():
        with pytest.raises(RecipeError, match="bad.yaml: " + ".*" + _escape(message)):
            load_recipe(write(tmp_path, text + "\n"))


def _escape(text):
    import re

    return re.escape(text)


def test_impossible_layer_sizes_are_reported_when_building():
    recipe = parse_recipe({"model": {"layers": [{"type": "dense", "units": 4, "input_dim": 785}]}})
    with pytest.raises(ValueError, match="input_dim=785.*784"):
        recipe.build_model()


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(RecipeError, match="recipe file not found"):
        load_recipe(tmp_path / "nope.yaml")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(write(tmp_path, "model: [\n"))
    with pytest.raises(RecipeError, match="a recipe is a mapping"):
        load_recipe(write(tmp_path, "- 1\n- 2\n"))
