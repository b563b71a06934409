"""Static catalogs (GPU types today; models and prices build on them)."""
