"""Alerting: the durable outbox, its delivery worker, policies, and the channel plugins."""
