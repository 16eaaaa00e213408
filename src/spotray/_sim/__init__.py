"""The preemption simulator: the plan's cluster running a batch workload on a simulated clock,
its Spot pools played by the same model the local cluster drives (`spotray._spot._model`)."""
