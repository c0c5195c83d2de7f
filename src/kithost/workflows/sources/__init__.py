"""Where workflows come from: Agent Builder exports, declarative YAML files, built-ins."""
