"""The framework's own plugins: they register the built-in components through
the same hooks as any third-party plugin."""
