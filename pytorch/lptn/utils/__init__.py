"""Options, logging and image helpers of the LPTN port (the reference's ``codes/utils``)."""
