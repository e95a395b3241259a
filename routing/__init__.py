"""Callers and their history, routing rules (pure evaluation), queues, agents, hours, wait estimates."""
