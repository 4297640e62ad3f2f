"""Configuration helpers of the SRCNN model."""
