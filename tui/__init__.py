"""divtui.tui package."""
