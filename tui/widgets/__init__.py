"""Widgets the screens share: safe text, solution columns, the accuracy plot, diffs."""
