"""Framework-free helpers shared by every model in the zoo (numpy, OpenCV and lmdb only)."""
