"""Request and response bodies of the API; routes never return table objects."""
