"""Retention scenarios: trigger → conditions → actions, under guardrails, with a control group."""
