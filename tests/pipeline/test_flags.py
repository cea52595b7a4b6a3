"""`train` and `sweep` take one flag per RunConfig field, with the field's comment as help."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from pipeline.__main__ import _config_from, _parser
from pipeline.config import PROFILES, RunConfig
from pipeline.flags import add_config_flags, field_help, flag_names


def _train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_config_flags(parser)
    return parser


def _config(*argv: str) -> RunConfig:
    args = _parser().parse_args(["train", *argv])
    return _config_from(args, ("command", "profile", "fresh", "no_wait", "ray"))


def test_every_field_has_a_flag_with_its_comment_and_one_default():
    actions = {a.dest: a for a in _train_parser()._actions if a.option_strings}
    fields = [f.name for f in dataclasses.fields(RunConfig)]
    assert sorted(actions) == sorted(["help", *fields])
    helps = field_help()
    for name in fields:
        action = actions[name]
        assert set(flag_names(name)) <= set(action.option_strings)
        assert action.help.startswith(helps[name].replace("%", "%%")), name
        assert action.help.count("default:") == 1, action.help


def test_the_comment_above_a_field_is_its_help():
    assert field_help()["batch_size"] == "Training batch size."
    assert (
        field_help()["cnn_width"]
        == "Filters of the CNNs' first conv; each later conv doubles them."
    )


def test_flags_set_their_fields_and_unset_flags_leave_the_profile():
    config = _config(
        "--profile", "quick", "--batch-size", "32", "--no-cnn-flip-average",
        "--models", "cnn3", "cnn4", "--external", "mine=a.keras", "--max-per-class", "7",
        "--finetune-layers", "12", "--out", "somewhere",
    )  # fmt: skip
    assert config.batch_size == 32 and config.cnn_flip_average is False
    assert config.models == ("cnn3", "cnn4") and config.external == ("mine=a.keras",)
    assert config.max_per_class == 7 and config.finetune_layers == 12
    assert config.out_dir == "somewhere"
    assert config.cnn_epochs == PROFILES["quick"]["cnn_epochs"]  # no flag: the profile's
    assert _config().cnn_epochs == RunConfig().cnn_epochs and _config().profile == "full"


def test_a_value_outside_a_fields_choices_is_refused(capsys):
    with pytest.raises(SystemExit):
        _config("--precision", "float16")
    assert "invalid choice: 'float16'" in capsys.readouterr().err


def test_sweep_takes_the_same_flags_as_train():
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    train = {o for a in sub.choices["train"]._actions for o in a.option_strings}
    sweep = {o for a in sub.choices["sweep"]._actions for o in a.option_strings}
    assert train - sweep == {"--fresh"} and sweep - train == {"--set"}
