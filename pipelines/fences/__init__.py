"""The pipelines' uses of frameworks' private APIs, one module per framework (see ``kimera.fences``)."""
