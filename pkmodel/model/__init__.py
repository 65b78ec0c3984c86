"""The model: model files (TOML), Model and its parameters, structures, the model language
(expressions -> numpy), validity ranges."""
