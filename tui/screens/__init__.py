"""The app's screens: overview, problems, batch view and their modal helpers."""
