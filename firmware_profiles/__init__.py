"""Device profiles as data: one TOML file per model."""
