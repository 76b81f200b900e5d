"""divtui.engine package."""
