"""The record: case files, the attendance matrix, the annual report and retention (platform-neutral)."""
