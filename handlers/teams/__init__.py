"""The Microsoft Teams front end: the only code that knows Adaptive Cards, activities and the Teams manifest."""
