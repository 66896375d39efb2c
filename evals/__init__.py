"""pydantic-evals datasets for the example agents; run them with ``fastmango ai eval PATH`` (see docs/ai-testing.md)."""
