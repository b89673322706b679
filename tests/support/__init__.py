"""Test support: mock servers (Slack Web API, OpenAI-compatible API), fakes and helpers,
imported by tests as `tests.support.…`."""
