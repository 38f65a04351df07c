"""The settings store: defaults, validation, persistence, damaged files, signals, atomic saves."""

from __future__ import annotations

import json
import os
import sys

import pytest

from diffeditor_app.engine.models.model import SD15_HUB_ID, ModelSpec
from diffeditor_app.runtime import settings as settings_module
from diffeditor_app.runtime.settings import (
    GROUPS,
    RECENT_LIMIT,
    SCHEMA,
    Setting,
    SettingsStore,
    default_path,
    setting,
    settings_in,
)


@pytest.fixture
def path(tmp_path):
    return tmp_path / "config" / "settings.json"


@pytest.fixture
def store(path, qapp):
    return SettingsStore(path)


def on_disk(path):
    return json.loads(path.read_text(encoding="utf-8"))


# -- the schema --------------------------------------------------------------------------------
def test_the_schema_declares_each_key_once_in_a_known_group():
    keys = [s.key for s in SCHEMA]
    assert len(keys) == len(set(keys))
    assert {s.group for s in SCHEMA} <= set(GROUPS)
    for group in GROUPS:
        assert settings_in(group), f"the dialog page {group} would be empty"


@pytest.mark.parametrize("entry", SCHEMA, ids=lambda s: s.key)
def test_every_default_validates_to_itself(entry):
    assert entry.validate(entry.default) == entry.default
    assert entry.label and entry.help.endswith(".")
    if entry.choices is not None:
        assert entry.default in entry.choices


def test_hidden_state_is_not_on_the_dialog_pages():
    shown = {s.key for group in GROUPS for s in settings_in(group)}
    assert {"recent_files", "last_task", "window_geometry"}.isdisjoint(shown)
    assert {"model_source", "precision", "vram_preset", "refine_radius"} <= shown


def test_validate_coerces_where_natural_and_rejects_the_rest():
    hardness = setting("brush_hardness")
    assert hardness.validate(1) == 1.0 and isinstance(hardness.validate(1), float)
    with pytest.raises(ValueError, match="brush_hardness"):
        hardness.validate(True)
    with pytest.raises(ValueError, match="brush_hardness"):
        hardness.validate(float("nan"))
    size = setting("refine_radius")
    with pytest.raises(ValueError, match="refine_radius"):
        size.validate(True)
    with pytest.raises(ValueError, match="refine_radius"):
        size.validate(40.0)
    assert setting("image_prompt").validate("  ") is None  # an emptied field means automatic
    with pytest.raises(ValueError, match="model_source must not be empty"):
        setting("model_source").validate("")
    with pytest.raises(ValueError, match="device"):
        setting("device").validate(None)
    assert setting("recent_files").validate(("a", "b")) == ["a", "b"]
    with pytest.raises(ValueError, match="recent_files"):
        setting("recent_files").validate(["a", 3])


def test_a_setting_is_a_frozen_declaration():
    entry = Setting("x", 1, "X", "An x.", int, "editing", minimum=0, maximum=2)
    with pytest.raises(AttributeError):
        entry.default = 2  # type: ignore[misc]
    with pytest.raises(ValueError, match=r"x must be a whole number between 0 and 2; got 3"):
        entry.validate(3)


# -- first run and persistence -----------------------------------------------------------------
def test_first_run_gives_the_defaults_and_writes_nothing(store, path):
    assert store.values() == {s.key: s.default for s in SCHEMA}
    assert store.get("model_source") == SD15_HUB_ID
    assert store.get("image_prompt") is None and store.get("default_resolution") is None
    assert store.get("precision") == "auto" and store.get("vram_preset") == "auto"
    assert store.get("allow_download") is True and store.get("recent_files") == []
    assert store.get("refine_radius") == 4 and store.get("last_task") == "move"
    assert store.problems == []
    assert not path.exists()


def test_a_change_persists_across_a_restart(store, path, qapp):
    store.set("refine_radius", 120)
    store.set("precision", "bf16")
    store.set("cache_folder", "/data/hf-cache")
    store.set("default_resolution", 512)
    again = SettingsStore(path)
    assert again.problems == []
    assert again.get("refine_radius") == 120 and again.get("precision") == "bf16"
    assert again.get("cache_folder") == "/data/hf-cache"
    assert again.get("default_resolution") == 512
    assert again.values() == store.values()


def test_the_file_is_sorted_indented_utf8_json(store, path):
    store.set("model_source", "/modèles/sd15")
    text = path.read_text(encoding="utf-8")
    assert "/modèles/sd15" in text  # not \u-escaped
    data = json.loads(text)
    assert list(data) == sorted(data) and set(data) == {s.key for s in SCHEMA}
    assert text.startswith('{\n  "') and text.endswith("}\n")


def test_values_and_get_hand_out_copies(store):
    store.get("recent_files").append("x")
    store.values()["recent_files"].append("y")
    assert store.get("recent_files") == []


# -- invalid values ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("refine_radius", "big", r"refine_radius must be a whole number between 1 and 500; got 'b"),
        ("refine_radius", 0, r"refine_radius must be a whole number between 1 and 500; got 0"),
        ("refine_radius", 501, r"refine_radius .* got 501"),
        ("brush_hardness", 1.5, r"brush_hardness must be a number between 0 and 1; got 1.5"),
        ("mask_opacity", -0.1, r"mask_opacity .*between 0 and 1"),
        ("precision", "fp8", r"precision must be one of auto, fp16, bf16, fp32; got 'fp8'"),
        ("vram_preset", "huge", r"vram_preset must be one of auto, high, medium, low, cpu-off"),
        ("last_task", "rotate", r"last_task must be one of move, drag, appearance, paste"),
        ("allow_download", 1, r"allow_download must be true or false; got 1"),
        ("default_resolution", 50, r"default_resolution must be .*64 and 2048 \(or empty"),
        ("model_source", None, r"model_source must be a text; got nothing"),
    ],
)
def test_invalid_values_are_rejected_naming_the_key(store, path, qtbot, key, value, message):
    before = store.values()
    with qtbot.assertNotEmitted(store.changed), pytest.raises(ValueError, match=message):
        store.set(key, value)
    assert store.values() == before and not path.exists()


def test_unknown_keys_are_key_errors_naming_them(store):
    with pytest.raises(KeyError, match="brush_colour"):
        store.get("brush_colour")
    with pytest.raises(KeyError, match="brush_colour"):
        store.set("brush_colour", "red")
    with pytest.raises(KeyError, match="brush_colour"):
        store.reset("brush_colour")


# -- damaged files -----------------------------------------------------------------------------
def test_corrupt_json_falls_back_to_defaults_and_keeps_the_file(path, qapp):
    path.parent.mkdir(parents=True)
    path.write_text('{"refine_radius": 12,', encoding="utf-8")
    store = SettingsStore(path)
    assert store.values() == {s.key: s.default for s in SCHEMA}
    bad = path.with_name("settings.json.bad")
    assert bad.read_text(encoding="utf-8") == '{"refine_radius": 12,'
    assert not path.exists()
    assert len(store.problems) == 1
    assert "not valid JSON" in store.problems[0] and "settings.json.bad" in store.problems[0]
    store.set("refine_radius", 12)  # the next save starts a fresh file beside the kept one
    assert on_disk(path)["refine_radius"] == 12 and bad.exists()


@pytest.mark.parametrize("content", [b"[1, 2]", b'"text"', b"\xff\xfe\x00garbage"])
def test_a_file_that_is_not_a_json_object_is_set_aside(path, qapp, content):
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    store = SettingsStore(path)
    assert store.values() == {s.key: s.default for s in SCHEMA}
    assert path.with_name("settings.json.bad").read_bytes() == content
    assert len(store.problems) == 1


def test_a_bad_value_on_disk_falls_back_for_that_key_only(path, qapp):
    path.parent.mkdir(parents=True)
    saved = {"refine_radius": "huge", "mask_opacity": 0.3, "precision": "fp4", "device": "cpu"}
    path.write_text(json.dumps(saved), encoding="utf-8")
    store = SettingsStore(path)
    assert store.get("refine_radius") == 4 and store.get("precision") == "auto"
    assert store.get("mask_opacity") == 0.3 and store.get("device") == "cpu"
    assert len(store.problems) == 2
    assert any("refine_radius" in p and "default 4" in p for p in store.problems)
    assert any("precision" in p and "'auto'" in p for p in store.problems)
    assert on_disk(path) == saved  # loading never rewrites the user's file


def test_a_byte_order_mark_is_accepted(path, qapp):
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"refine_radius": 8}).encode())
    store = SettingsStore(path)
    assert store.get("refine_radius") == 8 and store.problems == []


def test_loading_coerces_and_caps(path, qapp):
    path.parent.mkdir(parents=True)
    recent = [f"/img/{i}.png" for i in range(RECENT_LIMIT + 5)]
    path.write_text(json.dumps({"brush_hardness": 1, "recent_files": recent}), encoding="utf-8")
    store = SettingsStore(path)
    assert store.get("brush_hardness") == 1.0 and isinstance(store.get("brush_hardness"), float)
    assert store.get("recent_files") == recent[:RECENT_LIMIT]
    assert store.problems == []


def test_unknown_keys_on_disk_are_dropped_with_a_note(path, qapp):
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"refine_radius": 9, "theme": "dark"}), encoding="utf-8")
    store = SettingsStore(path)
    assert store.get("refine_radius") == 9 and "theme" not in store.values()
    assert len(store.problems) == 1 and "theme" in store.problems[0]
    store.set("refine_radius", 10)
    assert "theme" not in on_disk(path)


# -- signals -----------------------------------------------------------------------------------
def test_changed_is_emitted_once_for_a_real_change(store, qtbot):
    seen = []
    store.changed.connect(seen.append)
    with qtbot.waitSignal(store.changed, timeout=1000) as signal:
        store.set("mask_opacity", 0.6)
    assert signal.args == ["mask_opacity"]
    assert seen == ["mask_opacity"]


def test_no_signal_and_no_write_for_a_no_op(store, path, qtbot):
    with qtbot.assertNotEmitted(store.changed):
        store.set("refine_radius", 4)
        store.set("mask_opacity", 0.45)
        store.set("image_prompt", "")  # empty is None, the default
        store.reset("precision")
        store.reset_all()
    assert not path.exists()


def test_reset_and_reset_all(store, path, qtbot):
    store.set("refine_radius", 7)
    store.set("device", "cpu")
    with qtbot.waitSignal(store.changed) as signal:
        store.reset("refine_radius")
    assert signal.args == ["refine_radius"] and store.get("refine_radius") == 4
    store.set("vram_preset", "low")
    seen = []
    store.changed.connect(seen.append)
    store.reset_all()
    assert sorted(seen) == ["device", "vram_preset"]
    assert store.values() == {s.key: s.default for s in SCHEMA}
    assert on_disk(path)["device"] == "auto"


# -- recent files ------------------------------------------------------------------------------
def test_recent_files_newest_first_without_duplicates_capped(store, tmp_path):
    files = [tmp_path / f"{i}.png" for i in range(RECENT_LIMIT + 3)]
    for file in files:
        store.add_recent(file)
    expected = [str(f) for f in reversed(files)][:RECENT_LIMIT]
    assert store.get("recent_files") == expected
    store.add_recent(str(files[-4]))  # already listed: moves to the front, once
    assert store.get("recent_files")[0] == str(files[-4])
    assert store.get("recent_files").count(str(files[-4])) == 1
    assert len(store.get("recent_files")) == RECENT_LIMIT
    store.remove_recent(files[-4])
    assert str(files[-4]) not in store.get("recent_files")


def test_recent_files_are_absolute(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store.add_recent("cat.png")
    store.add_recent(tmp_path / "cat.png")
    assert store.get("recent_files") == [str(tmp_path / "cat.png")]


# -- atomic saves ------------------------------------------------------------------------------
def test_a_failed_write_leaves_the_old_file_and_the_store_unchanged(
    store, path, qtbot, monkeypatch
):
    store.set("refine_radius", 50)
    before = path.read_bytes()

    def disk_full(descriptor):  # the new text is written, then flushing it to disk fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with qtbot.assertNotEmitted(store.changed), pytest.raises(OSError, match="Could not save"):
        store.set("refine_radius", 60)
    assert path.read_bytes() == before
    assert store.get("refine_radius") == 50
    assert os.listdir(path.parent) == ["settings.json"]  # no temporary file left behind


def test_a_failed_rename_leaves_the_old_file(store, path, break_file_writes):
    store.set("device", "cpu")
    before = path.read_bytes()

    break_file_writes()
    with pytest.raises(OSError, match="Permission denied"):
        store.set("device", "cuda")
    assert path.read_bytes() == before and store.get("device") == "cpu"
    assert os.listdir(path.parent) == ["settings.json"]


def test_what_the_app_remembers_never_raises(store, path, break_file_writes):
    store.set("last_task", "appearance")
    before = path.read_bytes()

    break_file_writes()
    store.remember("last_task", "drag")  # logged, not raised
    assert path.read_bytes() == before and store.get("last_task") == "appearance"
    with pytest.raises(ValueError, match="last_task"):
        store.remember("last_task", "rotate")  # a wrong value is still a programming error


def test_saving_creates_the_folder(tmp_path, qapp):
    path = tmp_path / "a" / "b" / "settings.json"
    SettingsStore(path).set("refine_radius", 3)
    assert on_disk(path)["refine_radius"] == 3


# -- the engine's model spec -------------------------------------------------------------------
def test_model_spec_by_default(store):
    assert store.model_spec() == ModelSpec(allow_download=True)


def test_model_spec_maps_every_model_setting(store, tmp_path):
    checkpoint = tmp_path / "model.safetensors"
    store.set("model_source", str(checkpoint))
    store.set("device", "cuda:1")
    store.set("precision", "bf16")
    store.set("allow_download", False)
    store.set("image_prompt", "none")
    store.set("image_encoder", str(tmp_path / "clip"))
    store.set("vram_preset", "low")
    store.set("compile_unet", True)
    assert store.model_spec() == ModelSpec(
        source=str(checkpoint),
        device="cuda:1",
        dtype="bf16",
        allow_download=False,
        image_prompt="none",
        image_encoder=str(tmp_path / "clip"),
        vram_preset="low",
        compile_unet=True,
    )


@pytest.mark.parametrize("preset", ["auto", "high", "medium", "low", "cpu-offload"])
def test_every_gpu_memory_choice_is_an_engine_preset(store, preset):
    import torch

    from diffeditor_app.engine.models.memory import memory_plan

    store.set("vram_preset", preset)
    plan = memory_plan(store.model_spec().vram_preset, torch.device("cpu"))
    assert plan.preset.value == ("high" if preset == "auto" else preset)  # auto: no GPU here


@pytest.mark.parametrize("precision", ["auto", "fp16", "bf16", "fp32"])
def test_every_precision_is_an_engine_dtype(store, precision):
    store.set("precision", precision)
    assert store.model_spec().dtype == precision


# -- where the file lives ----------------------------------------------------------------------
def test_default_path_is_in_the_platform_config_dir(monkeypatch, tmp_path):
    calls = []

    def fake_config_dir(appname, appauthor=None, **kwargs):
        calls.append((appname, appauthor))
        return str(tmp_path / "cfg" / appname)

    monkeypatch.setattr(settings_module.platformdirs, "user_config_dir", fake_config_dir)
    assert default_path() == tmp_path / "cfg" / "DiffEditor" / "settings.json"
    assert calls == [("DiffEditor", False)]


def test_default_path_follows_the_real_platformdirs(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # honoured on Linux
    path = default_path()
    assert path.parts[-2:] == ("DiffEditor", "settings.json")
    if sys.platform.startswith("linux"):
        assert path == tmp_path / "DiffEditor" / "settings.json"
    assert not path.exists()  # asking for the path creates nothing


def test_recent_files_are_remembered_and_several_keys_change_together(
    store, path, break_file_writes
):
    store.set_all({"device": "cpu", "refine_radius": 12})
    assert store.get("device") == "cpu" and store.get("refine_radius") == 12
    before = path.read_bytes()

    break_file_writes()
    store.add_recent("cat.png")  # an open or a save that worked does not fail over its list
    store.remove_recent("cat.png")
    with pytest.raises(OSError, match="Permission denied"):
        store.set_all({"device": "cuda", "refine_radius": 20})
    assert path.read_bytes() == before  # all or nothing
    assert store.get("device") == "cpu" and store.get("refine_radius") == 12
    with pytest.raises(ValueError, match="refine_radius"):
        store.set_all({"device": "cuda", "refine_radius": -1})
