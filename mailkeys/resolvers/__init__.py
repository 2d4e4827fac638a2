"""Resolver functions per domain: they take an actor and plain arguments, never Info."""
