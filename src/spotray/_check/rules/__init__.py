"""spotray's rules, one class each, by family: SR0xx inputs, SR1xx KubeRay parity, SR2xx
scheduling, SR3xx fit and packing, SR4xx capacity, SR5xx Spot shutdown, SR6xx Terraform pools,
SR7xx security."""

from . import (  # noqa: F401 - importing registers the rules
    sr0_inputs,
    sr1_features,
    sr1_kuberay,
    sr1_objects,
    sr2_scheduling,
    sr3_fit,
    sr4_capacity,
    sr5_shutdown,
    sr6_terraform,
    sr7_security,
)
