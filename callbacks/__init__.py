"""Callback capacity, slots, booking, the promise state machine, and the RQ jobs that dial."""
