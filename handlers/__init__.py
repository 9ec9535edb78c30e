"""The chat platforms: `slack/` and `teams/`, siblings that the domain never imports."""
