"""The load benchmark's check that each session was shown its own photos' answers."""

from __future__ import annotations

from pathlib import Path

from dashboard.loadbench import wrong_answers


def _table(p_cnn: float, p_mobile: float) -> dict:
    return {
        "CNN-3": {"P(Dog)": f"{p_cnn:.3f}", "verdict": "Dog" if p_cnn >= 0.5 else "Cat"},
        "MobileNetV2 frozen": {"P(Dog)": f"{p_mobile:.3f}", "verdict": "x"},
    }


PHOTOS = {(0, 0): "a.jpg", (0, 1): "b.jpg", (1, 0): "c.jpg", (1, 1): "d.jpg"}
EXPECTED = {
    "a.jpg": {"CNN-3": 0.1234, "MobileNetV2 frozen": 0.9},
    "b.jpg": {"CNN-3": 0.7, "MobileNetV2 frozen": 0.0101},
    "c.jpg": {"CNN-3": 0.55, "MobileNetV2 frozen": 0.45},
    "d.jpg": {"CNN-3": 0.3, "MobileNetV2 frozen": 0.99},
}


def _photos(session: int, round_: int) -> Path:
    return Path(PHOTOS[session, round_])


def _shown(order: dict) -> dict:
    return {s: [_table(*EXPECTED[order[s, r]].values()) for r in (0, 1)] for s in (0, 1)}


def test_each_session_showing_its_own_answers_passes():
    shown = _shown(PHOTOS)
    assert wrong_answers(shown, photos=_photos, expected=EXPECTED, positive="Dog") == []


def test_a_session_shown_another_sessions_answer_is_caught():
    swapped = dict(PHOTOS) | {(1, 1): "b.jpg"}  # session 1's second upload shows session 0's
    wrong = wrong_answers(_shown(swapped), photos=_photos, expected=EXPECTED, positive="Dog")
    assert len(wrong) == 1 and wrong[0].startswith("session 1, upload 2")


def test_an_answer_off_by_more_than_the_shown_rounding_is_caught():
    shown = _shown(PHOTOS)
    shown[0][0]["CNN-3"]["P(Dog)"] = "0.125"  # recorded 0.1234: 1.6e-3 off
    wrong = wrong_answers(shown, photos=_photos, expected=EXPECTED, positive="Dog")
    assert len(wrong) == 1 and wrong[0].startswith("session 0, upload 1")
