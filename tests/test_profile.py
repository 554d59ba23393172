from __future__ import annotations

import pytest

from helpers import profile
from helpers.profile import Profile, ProfileError, resolve_profile


def test_explicit_name_wins_over_environment(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "full")
    assert resolve_profile("smoke").name == "smoke"


def test_environment_sets_profile(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", " Quick ")
    assert resolve_profile().name == "quick"


@pytest.mark.parametrize("gpus, expected", [([], "quick"), (["/physical_device:GPU:0"], "full")])
def test_default_depends_on_gpu(monkeypatch, gpus, expected):
    monkeypatch.setattr(profile, "_gpu_names", lambda: gpus)
    assert resolve_profile().name == expected


def test_unknown_profile_names_the_choices():
    with pytest.raises(ProfileError, match=r"Unknown profile 'fulll'.*full, quick, smoke.*COURSE_PROFILE"):
        resolve_profile("fulll")


def test_random_weights_opt_in(monkeypatch):
    monkeypatch.setenv("COURSE_RANDOM_WEIGHTS", "1")
    p = resolve_profile("quick")
    assert p.random_weights and p.weights is None and not p.accuracy_meaningful


def test_bad_random_weights_value_is_explained(monkeypatch):
    monkeypatch.setenv("COURSE_RANDOM_WEIGHTS", "maybe")
    with pytest.raises(ProfileError, match="COURSE_RANDOM_WEIGHTS"):
        resolve_profile("quick")


def test_values_per_profile():
    full, quick, smoke = (Profile(n) for n in ("full", "quick", "smoke"))
    assert [p.pick(full=30, quick=5, smoke=1) for p in (full, quick, smoke)] == [30, 5, 1]
    assert (full.weights, quick.weights, smoke.weights) == ("imagenet", "imagenet", "stand-in")
    assert (full.image_size(150), smoke.image_size(150), smoke.image_size(75)) == (150, 80, 75)
    assert full.accuracy_meaningful and not smoke.accuracy_meaningful and not smoke.real_data


def test_setup_prints_one_line_banner(capsys):
    p = profile.setup("smoke", seed=7)
    line = capsys.readouterr().out.strip()
    assert p == Profile("smoke", seed=7)
    assert "\n" not in line
    for part in ("Profile: smoke", "TensorFlow", "Keras", "CPU", "data:", "COURSE_PROFILE", "stand-in weights"):
        assert part in line


def test_setup_fixes_seeds():
    import numpy as np

    profile.setup("smoke", seed=3)
    first = np.random.rand(3)
    profile.setup("smoke", seed=3)
    assert np.array_equal(first, np.random.rand(3))


def test_random_weights_banner_warns(capsys):
    profile.setup("quick", random_weights=True)
    assert "accuracies are meaningless" in capsys.readouterr().out


def test_smoke_with_random_weights_says_random_not_stand_in(monkeypatch):
    monkeypatch.setattr(profile, "_gpu_names", lambda: [])
    line = profile.banner(Profile("smoke", random_weights=True))
    assert "RANDOM WEIGHTS" in line and "stand-in" not in line
