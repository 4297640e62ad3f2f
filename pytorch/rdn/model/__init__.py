"""The RDN network (model/rdn.py), as the reference port lays it out."""
