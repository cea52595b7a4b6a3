"""Live answers: shared models under concurrent sessions, votes, and the upload limits."""

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from dashboard import live
from dashboard.settings import MAX_BATCH_FILES, MAX_BATCH_PIXELS, MAX_UPLOAD_BYTES
from pipeline.data.images import load_model_input
from pipeline.modeling import saved_models
from pipeline.modeling.forward import engine_for
from pipeline.modeling.predict import Scorer
from tests.imagefactory import encode, photo

# The live page answers on the engine "auto" gives (OpenVINO here when installed), which
# agrees with each model run on its own in TensorFlow within this.
AGREE = 1e-4


@pytest.fixture(scope="module")
def models(real_run):
    """Each model's forward pass as the dashboard shares it between sessions."""
    engine = engine_for("auto")
    loaded = {n: saved_models.load(real_run.model_path(n)) for n in real_run.model_names()}
    return {name: Scorer(model, engine=engine).compiled() for name, model in loaded.items()}


def test_each_models_answer_is_its_own_prediction_on_the_photo(
    models, real_run, own_answers, shared_data
):
    """live.answer against each model loaded on its own from its .keras file, fed the
    photo through pipeline.data.images.load_model_input at its recorded input size."""
    for file in (shared_data / "Dog" / "0.jpg", shared_data / "Cat" / "1.jpg"):
        payload = file.read_bytes()
        result = live.answer(payload, models)
        expected = own_answers(file)
        assert [v.name for v in result.verdicts] == list(expected)
        for verdict in result.verdicts:
            assert verdict.p_positive == pytest.approx(expected[verdict.name], abs=AGREE)
        for name in expected:  # and the pixels shown are exactly the ones each model got
            size = tuple(real_run.model_record(name)["input_size"])
            np.testing.assert_array_equal(result.seen[size], load_model_input(payload, size))


def test_shared_models_answer_concurrent_sessions_as_they_answer_one(
    models, shared_data, own_answers
):
    files = (
        sorted((shared_data / "Dog").iterdir())[:8] + sorted((shared_data / "Cat").iterdir())[:8]
    )
    photos = [p.read_bytes() for p in files]
    expected = [own_answers(p) for p in files]  # each model on its own, one photo at a time
    # Sixteen photos, sixteen different answers: a session given another's would show.
    assert len({tuple(round(v, 4) for v in e.values()) for e in expected}) == len(files)
    serial = [live.answer(p, models) for p in photos]
    for one, own in zip(serial, expected, strict=True):
        assert [v.p_positive for v in one.verdicts] == pytest.approx(
            [own[v.name] for v in one.verdicts], abs=AGREE
        )
    with ThreadPoolExecutor(max_workers=8) as pool:  # Streamlit serves sessions on threads
        for _ in range(3):
            concurrent = list(pool.map(lambda p: live.answer(p, models), photos))
            for other, own in zip(concurrent, expected, strict=True):
                np.testing.assert_allclose(
                    [v.p_positive for v in other.verdicts],
                    [own[v.name] for v in other.verdicts],
                    atol=AGREE,
                )


def test_answer_shows_a_small_upright_preview_and_each_models_pixels(models):
    result = live.answer(encode(photo(1600, 1200, seed=3)), models)
    assert result.error is None
    assert max(Image.open(io.BytesIO(result.preview)).size) == live.PREVIEW_SIZE
    for size, png in result.seen_png.items():  # shown losslessly: exactly the model's pixels
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), result.seen[size])
    assert {tuple(p.shape[:2]) for p in result.seen.values()} == set(result.seen)
    assert len(result.verdicts) == len(models)


def test_the_size_limit_is_stated_as_the_uploader_states_it(models):
    result = live.answer(b"\xff" * (MAX_UPLOAD_BYTES + 1), models)
    assert result.error == "file too large (20.0 MB; the limit is 20 MB)"


def _verdicts(*p_dog):
    return [live.Verdict(f"m{i}", p, 1.0) for i, p in enumerate(p_dog)]


def test_votes_say_majority_unanimity_or_a_tie():
    classes = ["Cat", "Dog"]
    assert live.vote(_verdicts(0.9, 0.8, 0.7, 0.6), classes) == (
        "**4 of 4 models say Dog** — unanimous"
    )
    assert live.vote(_verdicts(0.1, 0.8, 0.2, 0.3), classes) == (
        "**3 of 4 models say Cat** — they disagree"
    )
    assert live.vote(_verdicts(0.1, 0.8, 0.2, 0.9), classes) == (
        "**A tie: 2 of 4 models say Cat, 2 say Dog**"
    )


def test_batches_are_capped_in_files_and_in_pixels():
    small = encode(photo(40, 30, seed=1))
    kept, messages = live.within_limits([(f"{i}.jpg", small) for i in range(MAX_BATCH_FILES + 3)])
    assert len(kept) == MAX_BATCH_FILES
    assert messages == [
        f"Only the first {MAX_BATCH_FILES} photos are answered at once; 3 more were left out. "
        "Remove some to see others."
    ]
    side = int((MAX_BATCH_PIXELS / 2.5) ** 0.5)  # each photo 40% of the budget
    big = encode(photo(side, side, seed=2).convert("L"), "PNG")
    kept, messages = live.within_limits([("a.png", big), ("b.png", big), ("c.png", big)])
    assert [t for t, _ in kept] == ["a.png", "b.png"]
    assert messages[0].startswith("c.png left out: the photos together would exceed")
