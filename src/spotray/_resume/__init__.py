"""Resumable Ray tasks: checkpoint stores, preemption notices, retry budgets by cause."""
