"""The rules, platform-neutral: nothing here imports a chat platform, the web server or the scheduler."""
