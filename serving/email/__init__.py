"""Retention emails: engines, versioned prompts, guardrails, retries, fallback, cache."""
