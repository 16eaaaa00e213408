"""GKE Spot, modelled once: the pure, clock-driven model of Spot pools (`_model`), the seeded
preemption and stockout schedules and traces (`_schedule`), and the run report's arithmetic
(`_report`). The local cluster drives the model with real processes (`spotray._local`); a
simulator can drive it with a simulated clock."""
