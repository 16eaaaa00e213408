"""The public API is what `spotray.__all__` says, and nothing leaks by accident."""

import spotray


def test_all_is_pinned():
    assert spotray.__all__ == sorted(spotray.__all__)
    assert spotray.__all__ == [
        "InputError",
        "NodePool",
        "OutputError",
        "Plan",
        "Problem",
        "RayGroup",
        "Rendered",
        "Spec",
        "SpecError",
        "SpotrayError",
        "load_spec",
        "plan",
        "render",
    ]


def test_errors_share_one_root():
    for name in ("SpecError", "InputError", "OutputError"):
        assert issubclass(getattr(spotray, name), spotray.SpotrayError)
