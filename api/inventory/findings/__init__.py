"""What happens to findings after detection: baselines and gates (``baseline``)."""
