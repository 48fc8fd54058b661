"""Versioned grid plans: drafts, edits, checks, publish, exchange, history."""
