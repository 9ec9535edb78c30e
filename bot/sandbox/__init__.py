"""Local stand-ins for Slack: the Web API the bot calls (used by the tests, the sandbox and the benchmark)."""
