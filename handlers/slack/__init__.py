"""Slack: the only code that imports slack_bolt or slack_sdk."""
