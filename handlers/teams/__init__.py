"""The Microsoft Teams front end over the same domain: auth today; listeners, cards and Workspace to come."""
