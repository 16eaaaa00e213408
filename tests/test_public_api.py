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
        "advise",
        "cost",
        "in_region",
        "load_spec",
        "plan",
        "render",
        "simulate",
    ]


def test_errors_share_one_root():
    for name in ("SpecError", "InputError", "OutputError"):
        assert issubclass(getattr(spotray, name), spotray.SpotrayError)


def test_local_api_is_pinned_and_its_errors_are_spotray_errors():
    from spotray import local

    assert local.__all__ == sorted(local.__all__)
    assert local.__all__ == [
        "GroupReport",
        "InstanceMetadata",
        "LocalCluster",
        "LocalClusterError",
        "LocalGroup",
        "MetadataServer",
        "MissingExtraError",
        "Preemption",
        "Report",
        "Stockout",
        "default_scale",
        "find",
        "leftovers",
        "leftovers_of",
        "local_groups",
        "names",
        "poisson",
        "read_trace",
        "reap_orphans",
        "run_job",
        "state_root",
        "stop_leftovers",
        "up",
    ]
    assert issubclass(local.LocalClusterError, spotray.SpotrayError)
    for name in local.__all__:
        assert getattr(local, name) is not None


def test_lazy_names_resolve():
    for name in spotray.__all__:
        assert getattr(spotray, name) is not None
