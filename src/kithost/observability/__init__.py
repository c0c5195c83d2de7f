"""What kithost tells its operators: Prometheus metrics and structured logs."""
